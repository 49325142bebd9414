"""Sphere-traced renders of a scene with the engine's cameras, rays, shading and compositing.

The geometry is traced once per camera and shaded in every requested mode, so the colored,
textureless and ambient-only images of one view share camera and light. Pixels are supersampled
(rays through the centres of a finer grid, box-averaged), which matches how a volume renderer's
soft silhouette blends object and background.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from ..cameras import Cameras
from ..config import ShadingConfig
from ..shading import ShadingMode, composite, shade, shadow_rays
from .scene import Scene

_EPSILON = 5e-4  # a ray has hit when the distance falls below this
_LOOSE_EPSILON = 5e-3  # rays still marching after the step limit count as hits within this (grazing rays)
_STEP_FACTOR = 0.9  # some SDFs are bounds, not exact: under-step a little
_MAX_STEPS = 96
_NORMAL_STEP = 1e-3


@dataclass
class SurfaceHits:
    """Where each ray (flattened) first meets the scene."""

    hit: torch.Tensor  # (N,) bool
    points: torch.Tensor  # (N, 3)


def trace(scene: Scene, origins: torch.Tensor, directions: torch.Tensor) -> SurfaceHits:
    """Sphere tracing of rays (N, 3), starting where each ray enters the scene's bounding sphere."""
    radius = scene.radius * 1.02 + _EPSILON
    b = (origins * directions).sum(dim=-1)
    c = origins.square().sum(dim=-1) - radius * radius
    disc = b * b - c
    root = disc.clamp_min(0.0).sqrt()
    t = (-b - root).clamp_min(0.0)
    t_far = -b + root
    hit = torch.zeros_like(b, dtype=torch.bool)
    active = torch.nonzero((disc > 0) & (t_far > 0)).squeeze(-1)
    for _ in range(_MAX_STEPS):
        if active.numel() == 0:
            break
        distance = scene.distance(origins[active] + t[active, None] * directions[active])
        arrived = distance < _EPSILON
        hit[active[arrived]] = True
        t[active] += torch.where(arrived, 0.0, _STEP_FACTOR * distance)
        active = active[~arrived & (t[active] < t_far[active])]
    if active.numel():
        distance = scene.distance(origins[active] + t[active, None] * directions[active])
        hit[active[distance < _LOOSE_EPSILON]] = True
    return SurfaceHits(hit, origins + t[:, None] * directions)


RayTracer = Callable[[torch.Tensor, torch.Tensor], SurfaceHits]  # (origins (N, 3), unit directions (N, 3))


def light_visibility(
    trace_rays: RayTracer, points: torch.Tensor, normals: torch.Tensor, light: torch.Tensor
) -> torch.Tensor:
    """Hard shadows: (..., 1) 1 where nothing lies between a surface point (N, 3) and its light (broadcastable,
    e.g. (L, 1, 3) for several lights), else 0."""
    origins, directions, distance = shadow_rays(points, normals, light)
    flat_o, flat_d, flat_distance = origins.reshape(-1, 3), directions.reshape(-1, 3), distance.reshape(-1)
    # Only points that face their light are traced: elsewhere the diffuse term is zero anyway.
    facing = ((directions * normals).sum(dim=-1).reshape(-1) > 0.0).nonzero().squeeze(-1)
    hits = trace_rays(flat_o[facing], flat_d[facing])
    blocked = hits.hit & ((hits.points - flat_o[facing]).norm(dim=-1) < flat_distance[facing])
    visibility = torch.ones_like(flat_distance).index_fill(0, facing[blocked], 0.0)
    return visibility.view(*distance.shape, 1)


def normals(scene: Scene, points: torch.Tensor) -> torch.Tensor:
    """Outward unit normals (N, 3) from central differences of the SDF."""
    offsets = torch.eye(3, dtype=points.dtype, device=points.device) * _NORMAL_STEP
    probes = torch.cat([points[:, None, :] + offsets, points[:, None, :] - offsets], dim=1)  # (N, 6, 3)
    d = scene.distance(probes.reshape(-1, 3)).view(-1, 6)
    gradient = d[:, :3] - d[:, 3:]
    return gradient / gradient.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def render(
    scene: Scene,
    cameras: Cameras,
    resolution: int,
    modes: tuple[ShadingMode, ...],
    shading: ShadingConfig,
    supersample: int = 2,
) -> dict[ShadingMode, torch.Tensor]:
    """(B, 3, H, W) images in [0, 1] per mode, composited over the configured background."""
    fine = resolution * supersample
    origins, directions = cameras.rays(fine)
    batch = len(cameras)
    flat_o, flat_d = origins.reshape(-1, 3), directions.reshape(-1, 3)
    surface = trace(scene, flat_o, flat_d)
    index = torch.nonzero(surface.hit).squeeze(-1)
    points = surface.points[index]
    normal = normals(scene, points)
    albedo = scene.albedo(points)
    light = cameras.light.repeat_interleave(fine * fine, dim=0)[index]
    visibility = light_visibility(partial(trace, scene), points, normal, light) if shading.shadows else None
    opacity = surface.hit.to(flat_o.dtype).view(batch, fine, fine, 1)
    images = {}
    for mode in modes:
        color = torch.zeros_like(flat_o)
        color[index] = shade(albedo, normal, points, light, mode, shading, None, visibility)
        image = composite(color.view(batch, fine, fine, 3), opacity, shading.background)
        image = image.permute(0, 3, 1, 2)
        images[mode] = F.avg_pool2d(image, supersample) if supersample > 1 else image
    return images
