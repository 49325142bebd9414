"""Mesh refinement: the extracted mesh's vertices moved by the run's own prior, as Magic3D's fine stage.

Why: the field is trained from renders of 64 px, where a pixel is about a voxel, so nothing in training sees the
voxel-scale lumps it leaves on flat faces (bench/results/surface-trials.md). Drawn at a higher resolution by a
differentiable rasterizer (``rasterize.py``, shaded by ``mesh_render.py`` as the field is), the mesh shows its
lumps as facets of other brightness, and the prior's SDS gradient (``guidance/sds.py``, the trainer's cameras,
lights and backgrounds) moves the vertices to remove them. Magic3D (Lin et al. 2023) optimizes a DMTet there at
512 px; here the vertices themselves move (Adam on offsets, smoothed by ``large_steps.py`` so that a face moves as
one), held together by the terms its implementation (threestudio) adds: the normal consistency of neighbouring
faces and the uniform Laplacian of the vertices. The cameras reach lower than training's by default, to the bottom
no training view saw (``mesh.refine.elevation_range_deg``). Albedo stays as baked from the field, so only the
shape changes, and by default the prior sees textureless renders only: a colored render's albedo error could be
answered only by bending the shape (measured on the oracle cube: 65% of the area within 5 degrees with training's
mix of modes, 73% textureless).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from ..background import TrainingBackground
from ..cameras import sample_cameras
from ..config import RunConfig
from ..guidance.base import DiffusionPrior
from ..guidance.procedural_camera import CameraProceduralPrior
from ..guidance.sds import ScoreDistillation
from ..optimizer import cosine_decay, descend
from ..prompts import view_contexts
from ..shading import ShadingMode, sample_mode
from .large_steps import SmoothSteps
from .mesh_render import face_normals, render_mesh
from .rasterize import edge_neighbours

Progress = Callable[[float], None]  # the fraction of the refinement done


def scoring_prior(prior: DiffusionPrior, resolution: int) -> tuple[DiffusionPrior, int]:
    """The prior to score refinement renders with, and the size to render them at: a camera-conditioned
    procedural prior (the oracle too) renders its data at any size, so a copy of it at ``resolution``; a learned
    prior resizes any render to its own input; any other renders at its ``input_resolution`` (None: any size)."""
    if isinstance(prior, CameraProceduralPrior):
        resized = copy.copy(prior)
        resized.resolution = resolution
        return resized, resolution
    if prior.registered().learned:
        return prior, resolution
    return prior, prior.input_resolution or resolution


def vertex_neighbours(faces: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The mesh's edges, each way once: (E,) sources and (E,) targets."""
    edges = torch.stack([faces, faces.roll(-1, dims=1)], dim=-1).reshape(-1, 2)  # (0,1) (1,2) (2,0) of each face
    edges = torch.cat([edges, edges.flip(1)])
    unique = torch.unique(edges[:, 0] * count + edges[:, 1])
    return unique // count, unique % count


def laplacian_penalty(vertices: torch.Tensor, sources: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """sum over vertices of |mean of its neighbours - itself|^2 (the uniform Laplacian)."""
    total = torch.zeros_like(vertices).index_add(0, sources, vertices[targets])
    degree = torch.zeros(len(vertices), dtype=vertices.dtype, device=vertices.device)
    degree = degree.index_add(0, sources, torch.ones_like(sources, dtype=vertices.dtype)).clamp_min(1.0)
    return (total / degree.unsqueeze(-1) - vertices).square().sum()


def face_pairs(neighbours: torch.Tensor) -> torch.Tensor:
    """(P, 2) faces that share an edge, each pair once, from ``edge_neighbours(faces)``."""
    owner = torch.arange(len(neighbours), device=neighbours.device).unsqueeze(-1).expand_as(neighbours)
    once = neighbours > owner
    return torch.stack([owner[once], neighbours[once]], dim=-1)


def normal_consistency_penalty(vertices: torch.Tensor, faces: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """sum over neighbouring faces of 1 - cos of the angle between their normals (consistent winding assumed, as
    marching cubes gives it)."""
    normals = face_normals(vertices, faces)
    return (1.0 - (normals[pairs[:, 0]] * normals[pairs[:, 1]]).sum(dim=-1)).sum()


class MeshRefiner:
    """Moves a mesh's vertices by the run's prior; called by the mesh pipeline between extraction and the bake
    with numpy arrays (the pipeline holds no torch)."""

    def __init__(self, config: RunConfig, prior: DiffusionPrior, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.prior, self.resolution = scoring_prior(prior, config.mesh.refine.resolution)
        elevations = config.mesh.refine.elevation_range_deg
        self.cameras = config.camera if elevations is None else replace(config.camera, elevation_range_deg=elevations)

    def sampled_mode(self, generator: torch.Generator) -> ShadingMode:
        """A shading mode drawn as training draws it past its ambient-only warm-up."""
        steps = self.config.optim.steps
        return sample_mode(steps, steps, self.config.shading, generator)

    def __call__(self, vertices: np.ndarray, faces: np.ndarray, albedo: np.ndarray, progress: Progress) -> np.ndarray:
        """The refined vertices (V, 3) of ``vertices`` (V, 3) and ``faces`` (F, 3) with per-vertex ``albedo``
        (V, 3, the field's, as the renderer shades it); the faces stay as they are."""
        config, settings = self.config, self.config.mesh.refine
        if settings.steps == 0 or len(faces) == 0:
            return vertices
        generator = torch.Generator().manual_seed(config.seed)
        start = torch.as_tensor(np.asarray(vertices, dtype=np.float32), device=self.device)
        face_index = torch.as_tensor(np.asarray(faces, dtype=np.int64), device=self.device)
        colors = torch.as_tensor(np.asarray(albedo, dtype=np.float32), device=self.device)
        sources, targets = vertex_neighbours(face_index, len(start))
        neighbours = edge_neighbours(face_index)
        pairs = face_pairs(neighbours)
        steps = SmoothSteps(sources, targets, len(start), settings.step_smoothing)
        offset = torch.zeros_like(start, requires_grad=True)  # u: the vertices move by (I + lambda L)^-1 u
        optimizer = torch.optim.Adam([offset], lr=settings.lr)
        sds = ScoreDistillation(self.prior, config.guidance)
        background = TrainingBackground.for_prior(config.shading, self.prior)
        progress(0.0)
        for step in range(settings.steps):
            optimizer.param_groups[0]["lr"] = cosine_decay(
                step / settings.steps, settings.lr, settings.lr * settings.lr_end_factor
            )
            mode = ShadingMode.TEXTURELESS if settings.textureless else self.sampled_mode(generator)
            cameras = sample_cameras(self.cameras, config.optim.batch_size, generator).to(self.device)
            color = background.draw(generator).to(self.device)
            moved = start + steps.vertices(offset)
            rgb = torch.stack(
                [
                    render_mesh(
                        moved, face_index, colors, cameras[i], self.resolution, mode, config.shading, color, neighbours
                    )
                    for i in range(len(cameras))
                ]
            )
            views = view_contexts(cameras, mode, config.camera, config.guidance, color)
            score = sds(rgb, views, 1.0, generator)
            loss = (
                score.loss
                + settings.laplacian_weight * laplacian_penalty(moved, sources, targets)
                + settings.normal_weight * normal_consistency_penalty(moved, face_index, pairs)
            )
            descend(optimizer, loss, config.optim.grad_clip)
            progress((step + 1) / settings.steps)
        return (start + steps.vertices(offset)).detach().cpu().numpy()
