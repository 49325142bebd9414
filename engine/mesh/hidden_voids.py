"""Empty pockets that no view can see into, made solid before marching cubes.

A signed-distance field is held to the surface the renders show and nowhere else. Under an opaque shell
its value drifts, and bubbles open just beneath the surface. Marching cubes turns them into inner
surfaces: they take faces, lower normal consistency and take volume from the solid, and no render ever
showed them.

Many bubbles touch the outside through a crack a voxel wide, so a flood fill from the border misses
them. A voxel counts as hidden when the solid blocks it along all six axis directions: every line along
+-x, +-y and +-z from the voxel to the border crosses a solid voxel. Six cumulative ORs find them. Real
openings stay open: a mug's inside is seen from above, a torus's hole along its axis, and the gap between
two objects from the side.
"""

from __future__ import annotations

import numpy as np


def hidden_voxels(solid: np.ndarray) -> np.ndarray:
    """(R, R, R) bool: the empty voxels of ``solid`` that no axis-aligned line reaches from the border."""
    hidden = ~solid
    for axis in range(solid.ndim):
        for reverse in (False, True):
            along = np.flip(solid, axis) if reverse else solid
            blocked = np.logical_or.accumulate(along, axis=axis)
            hidden &= np.flip(blocked, axis) if reverse else blocked
    return hidden


def fill_hidden_voids(density: np.ndarray, level: float) -> tuple[np.ndarray, int]:
    """``density`` with its hidden voxels (empty at ``level``) raised to the densest value, and their count."""
    voids = hidden_voxels(density >= level)
    count = int(voids.sum())
    if count == 0:
        return density, 0
    filled = density.copy()
    filled[voids] = max(float(density.max()), 2.0 * level)
    return filled, count
