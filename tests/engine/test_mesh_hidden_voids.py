"""Hidden voids: bubbles under the surface become solid; openings a camera can see into stay open."""

from __future__ import annotations

import dataclasses

import numpy as np
import trimesh
from scipy import ndimage

from engine.config import MeshConfig
from engine.mesh.density_grid import DensityGrid
from engine.mesh.hidden_voids import fill_hidden_voids, hidden_voxels
from engine.mesh.pipeline import surface_mesh

R = 48
AXIS = np.linspace(-1.0, 1.0, R)
X, Y, Z = np.meshgrid(AXIS, AXIS, AXIS, indexing="ij")
RADIUS = np.sqrt(X**2 + Y**2 + Z**2)


def ball(center: tuple[float, float, float], radius: float) -> np.ndarray:
    return (X - center[0]) ** 2 + (Y - center[1]) ** 2 + (Z - center[2]) ** 2 < radius**2


def test_a_bubble_and_a_bubble_behind_a_diagonal_crack_are_hidden() -> None:
    solid = RADIUS < 0.8
    bubble = ball((0.0, 0.0, 0.0), 0.3)
    cracked = ball((0.4, 0.4, 0.0), 0.15)
    # a staircase crack one voxel wide (face-connected) from the cracked bubble to the outside: no axis line
    # runs along it
    x, y, z = np.argwhere(cracked)[-1]
    crack = []
    while x < R and y < R:
        crack.append((x, y, z))
        x, y = (x + 1, y) if len(crack) % 2 else (x, y + 1)
    solid &= ~bubble & ~cracked
    for index in crack:
        solid[index] = False
    hidden = hidden_voxels(solid)
    assert hidden[bubble].all() and hidden[cracked].all()
    assert not hidden[solid].any() and not hidden[RADIUS > 0.85].any()
    flood = ndimage.binary_fill_holes(solid)  # a flood fill from outside misses the cracked bubble
    assert flood[bubble].all() and not flood[cracked].any()


def test_openings_a_view_sees_into_stay_open() -> None:
    radial = np.sqrt(X**2 + Y**2)
    cup = (radial < 0.7) & (np.abs(Z) < 0.7) & ~((radial < 0.55) & (Z > -0.5))  # open at +z
    torus = (np.sqrt((radial - 0.5) ** 2 + Z**2)) < 0.2
    pair = ball((-0.45, 0.0, 0.0), 0.4) | ball((0.45, 0.0, 0.0), 0.4)  # two balls almost touching
    cavity = (radial < 0.5) & (Z > -0.4)
    hole = radial < 0.25
    gap = (np.abs(X) < 0.04) & (np.abs(Z) < 0.3)
    for solid, opening in ((cup, cavity), (torus, hole), (pair, gap)):
        assert not hidden_voxels(solid)[opening].any()
        assert not hidden_voxels(solid, lowest_elevation_deg=-60.0).any()


def test_cameras_just_below_the_horizon_see_under_the_inner_side_of_a_tube() -> None:
    radial = np.sqrt(X**2 + Y**2)
    torus = (np.sqrt((radial - 0.5) ** 2 + Z**2)) < 0.2
    level_only = hidden_voxels(torus, lowest_elevation_deg=0.0)  # the hole's lower rim: level lines hit the tube
    assert level_only.sum() > 100
    assert hidden_voxels(torus, lowest_elevation_deg=-10.0).sum() < level_only.sum() / 10


def test_a_hollow_open_only_underneath_is_hidden_unless_cameras_look_up() -> None:
    radial = np.sqrt(X**2 + Y**2)
    bell = (radial < 0.7) & (np.abs(Z) < 0.7) & ~((radial < 0.55) & (Z < 0.5))  # open at -z
    inside = (radial < 0.5) & (np.abs(Z) < 0.4)
    assert hidden_voxels(bell)[inside].all()
    assert not hidden_voxels(bell, lowest_elevation_deg=-60.0).any()


def test_fill_raises_only_the_hidden_voxels_and_counts_them() -> None:
    density = np.where(RADIUS < 0.8, 40.0, 0.0).astype(np.float32)
    bubble = ball((0.0, 0.0, 0.0), 0.3)
    density[bubble] = 1.0
    filled, count = fill_hidden_voids(density, 20.0)
    assert count == int(bubble.sum())
    assert (filled[bubble] == 40.0).all() and (filled[~bubble] == density[~bubble]).all()
    assert fill_hidden_voids(filled, 20.0)[1] == 0


def test_the_exported_surface_has_no_inner_shell() -> None:
    density = np.where(RADIUS < 0.8, 40.0, 0.0).astype(np.float32)
    density[ball((0.1, -0.1, 0.0), 0.35)] = 0.0
    grid = DensityGrid(density, np.zeros((R // 2,) * 3 + (3,), np.uint8), 1.0)
    config = MeshConfig(smooth_iterations=0, face_budget=None, min_component_fraction=0.0)
    volumes = {}
    for fill in (False, True):
        vertices, faces, _ = surface_mesh(grid, 20.0, dataclasses.replace(config, fill_hidden_voids=fill), -10.0)
        mesh = trimesh.Trimesh(vertices, faces)
        volumes[fill] = (len(mesh.split(only_watertight=False)), abs(mesh.volume))
    sphere = 4.0 / 3.0 * np.pi * 0.8**3
    assert volumes[False][0] == 2 and volumes[True][0] == 1  # the inner shell is gone
    assert abs(volumes[True][1] - sphere) < 0.05 * sphere < abs(volumes[False][1] - sphere)
