"""Mesh refinement (engine/refinement/refine.py): its regularizers on meshes worked by hand, and a bumpy cube made flat
by the oracle prior, the real prior a run of "a red cube" uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from engine.config import RunConfig
from engine.guidance.oracle import OraclePrior
from engine.procedural.ground_truth import scene_mesh
from engine.procedural.scene import Scene
from engine.refinement.large_steps import SmoothSteps
from engine.refinement.rasterize import edge_neighbours
from engine.refinement.refine import (
    MeshRefiner,
    face_pairs,
    laplacian_penalty,
    normal_consistency_penalty,
    vertex_neighbours,
)


def test_a_flat_grid_has_no_laplacian_inside_and_no_normal_penalty() -> None:
    plane = trimesh.creation.box(extents=(1.0, 1.0, 1.0)).subdivide().subdivide()
    vertices = torch.tensor(plane.vertices, dtype=torch.float64)
    faces = torch.tensor(plane.faces, dtype=torch.int64)
    neighbours = edge_neighbours(faces)
    assert (neighbours >= 0).all()  # a closed box: every edge has a face across
    pairs = face_pairs(neighbours)
    assert len(pairs) == 3 * len(faces) // 2
    # Of all neighbouring pairs, only the 12 cube edges' are bent, by 90 degrees: 1 - cos = 1 each.
    bent = 12 * 4  # each cube edge is cut into 4 pieces by two subdivisions
    assert float(normal_consistency_penalty(vertices, faces, pairs)) == pytest.approx(bent)
    sources, targets = vertex_neighbours(faces, len(vertices))
    raised = vertices.clone()
    top_centre = int((vertices - torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64)).norm(dim=1).argmin())
    raised[top_centre, 2] += 0.1  # a bump in the middle of the top face
    assert float(laplacian_penalty(raised, sources, targets)) > float(laplacian_penalty(vertices, sources, targets))


def axis_error_deg(mesh: trimesh.Trimesh) -> np.ndarray:
    """Each face's angle (degrees) to the nearest of the six axis directions: 0 on a perfect cube."""
    return np.degrees(np.arccos(np.clip(np.abs(mesh.face_normals).max(axis=1), 0.0, 1.0)))


@pytest.mark.slow
def test_the_oracle_flattens_a_bumpy_cube(tmp_path: Path) -> None:
    config = RunConfig(prompt="a red cube")
    config.guidance.prior = "oracle"
    config.mesh.refine.steps = 150
    config.mesh.refine.resolution = 128
    half = float(np.abs(scene_mesh(Scene.from_prompt(config.prompt), 64).vertices).max())
    cube = trimesh.creation.box(extents=(2 * half,) * 3)
    cube = trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(cube.vertices, cube.faces, max_edge=0.04))
    rng = np.random.default_rng(0)
    bumpy = cube.vertices + rng.normal(scale=0.006, size=cube.vertices.shape)
    prior = OraclePrior.from_run_config(config, torch.device("cpu"), tmp_path)
    prior.set_prompt(config.prompt, "", ())
    red = np.tile([[0.8, 0.04, 0.03]], (len(bumpy), 1))
    refined = MeshRefiner(config, prior, torch.device("cpu"))(bumpy, cube.faces, red, lambda fraction: None)
    before = axis_error_deg(trimesh.Trimesh(bumpy, cube.faces, process=False))
    after = axis_error_deg(trimesh.Trimesh(refined, cube.faces, process=False))
    assert np.median(after) < 0.5 * np.median(before)
    # The faces stay where the truth's are (neither shrunk nor grown), within a quarter of a 128 px render's pixel.
    assert np.median(np.abs(refined).max(axis=1)) == pytest.approx(half, abs=0.003)


def test_smooth_steps_invert_i_plus_lambda_l_and_carry_its_gradient() -> None:
    mesh = trimesh.creation.icosphere(subdivisions=2)
    faces = torch.tensor(mesh.faces, dtype=torch.int64)
    sources, targets = vertex_neighbours(faces, len(mesh.vertices))
    steps = SmoothSteps(sources, targets, len(mesh.vertices), smoothing=5.0)
    x = torch.tensor(mesh.vertices, dtype=torch.float64)
    degree = torch.bincount(sources, minlength=len(x)).double().unsqueeze(-1)
    laplacian_x = degree * x - torch.zeros_like(x).index_add(0, sources, x[targets])
    u = (x + 5.0 * laplacian_x).requires_grad_(True)
    assert torch.allclose(steps.vertices(u), x, atol=1e-10)
    assert torch.autograd.gradcheck(steps.vertices, (u,))
