"""Albedo bake: a known color field comes back on the mesh, as vertex colors and as a UV texture.

The field's albedo outside the object is deliberately wrong (the complement of the true color), as a
trained field's is: the bake must take color from the object only. Tolerances are in display units
(0..1): a voxel of color gradient is about 0.01 at this resolution.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.mesh.bake import bake_texture, rasterize_positions, vertex_albedo
from engine.mesh.density_grid import sample_field
from engine.mesh.extract import extract_surface
from engine.mesh.threshold import auto_threshold
from engine.mesh.uv_atlas import face_neighbours, unwrap

BOUND = 1.0
RADIUS = 0.6


def density_fn(points: np.ndarray) -> np.ndarray:
    radius = np.linalg.norm(points, axis=1)
    return (50.0 * np.clip(0.5 - (radius - RADIUS) / 0.03, 0.0, 1.0)).astype(np.float32)


def true_albedo(points: np.ndarray) -> np.ndarray:
    return np.clip(0.5 + 0.4 * points / RADIUS, 0.0, 1.0).astype(np.float32)


def albedo_fn(points: np.ndarray) -> np.ndarray:
    inside = np.linalg.norm(points, axis=1) < RADIUS + 0.02
    color = true_albedo(points)
    return np.where(inside[:, None], color, 1.0 - color)


@pytest.fixture(scope="module")
def baked_sphere():
    grid = sample_field(density_fn, albedo_fn, 96, BOUND)
    vertices, faces = extract_surface(grid.density, BOUND, auto_threshold(grid.density, BOUND))
    return grid, vertices, faces


def test_sampled_grid_has_the_documented_layout(baked_sphere) -> None:
    grid, _, _ = baked_sphere
    assert grid.density.shape == (96, 96, 96) and grid.albedo.shape == (48, 48, 48, 3)
    assert grid.albedo.dtype == np.uint8
    assert grid.density[0, 0, 0] == 0.0 and grid.density[48, 48, 48] == pytest.approx(50.0)
    # density[i, j, k] is at (x_i, y_j, z_k): a point on +X of the surface
    i = round((RADIUS - 0.05 + BOUND) / grid.spacing)
    assert grid.density[i, 48, 48] > 25.0 and grid.density[48, 48, i] > 25.0 and grid.density[48, i, 95 - i] < 1.0


def test_vertex_colors_match_the_field(baked_sphere) -> None:
    grid, vertices, _ = baked_sphere
    error = np.abs(vertex_albedo(grid, vertices) - true_albedo(vertices))
    assert error.mean() < 0.01
    assert np.quantile(error, 0.99) < 0.03


def test_texture_bake_matches_the_field_at_every_face(baked_sphere) -> None:
    grid, vertices, faces = baked_sphere
    size = 512
    uvs = unwrap(vertices, faces, size)
    assert uvs.shape == (len(faces) * 3, 2)
    assert uvs.min() >= 0.0 and uvs.max() <= 1.0
    texture = bake_texture(grid, vertices, faces, uvs, size)
    assert texture.shape == (size, size, 3) and texture.dtype == np.uint8
    centre_uv = uvs.reshape(-1, 3, 2).mean(axis=1)
    column = np.clip((centre_uv[:, 0] * size).astype(int), 0, size - 1)
    row = np.clip(((1.0 - centre_uv[:, 1]) * size).astype(int), 0, size - 1)
    error = np.abs(texture[row, column] / 255.0 - true_albedo(vertices[faces].mean(axis=1)))
    assert error.mean() < 0.015
    assert np.quantile(error, 0.99) < 0.04


def test_texture_charts_do_not_overlap_and_seams_are_padded(baked_sphere) -> None:
    _, vertices, faces = baked_sphere
    size = 256
    uvs = unwrap(vertices, faces, size).reshape(-1, 3, 2)
    # Paint every face's texels with the face's own 3D centre: overlapping charts would put a far-away
    # centre under some face's uv centre.
    positions, covered = rasterize_positions(uvs, np.repeat(vertices[faces].mean(axis=1)[:, None], 3, axis=1), size)
    centre_uv = uvs.mean(axis=1)
    column = (centre_uv[:, 0] * size).astype(int)
    row = ((1.0 - centre_uv[:, 1]) * size).astype(int)
    hit = covered[row, column]
    assert hit.mean() > 0.5
    moved = np.linalg.norm(positions[row, column][hit] - vertices[faces].mean(axis=1)[hit], axis=1)
    assert np.quantile(moved, 0.99) < 0.05
    assert 0.3 < covered.mean() < 0.95  # charts fill the atlas well but leave room for padding


def test_face_neighbours_of_a_closed_mesh_are_mutual(baked_sphere) -> None:
    _, _, faces = baked_sphere
    neighbours = face_neighbours(faces)
    assert (neighbours >= 0).all()
    rows = np.repeat(np.arange(len(faces)), 3)
    assert (neighbours[neighbours.ravel()] == rows[:, None]).any(axis=1).all()
