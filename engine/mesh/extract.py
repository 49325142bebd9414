"""Marching cubes on the stored density grid.

numpy, scipy and PyMCubes only (no torch), so ``python -m engine remesh`` re-extracts from
``density_grid.npz`` in about a second. The grid is padded with empty space, so a surface that touches
the box is closed: every mesh is watertight. Faces wind counter-clockwise seen from the side where
density is below the threshold, so normals point out of the solid (into a cavity for a cavity's wall).
"""

from __future__ import annotations

import mcubes
import numpy as np

from ..errors import EngineError
from .threshold import auto_threshold


def extract_surface(density: np.ndarray, bound: float, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The isosurface {density = threshold} inside the renderer's sphere: vertices (N, 3) float32 in metres, faces
    (M, 3) int32."""
    density = unseen_cleared(density, bound)
    check_surface_exists(density, bound, threshold)
    vertices, faces = mcubes.marching_cubes(np.pad(density, 1), float(threshold))
    spacing = 2.0 * bound / (density.shape[0] - 1)
    vertices = ((vertices - 1.0) * spacing - bound).astype(np.float32)
    return vertices, faces.astype(np.int32)


def unseen_cleared(density: np.ndarray, bound: float) -> np.ndarray:
    """The density with every sample outside the sphere of radius ``bound`` set to 0. The renderer marches rays only
    inside that sphere, so what the field holds beyond it (the box's corners) was never seen or trained, and a surface
    there is a phantom (measured: the curvature term's updates to the coarse levels left such shells on the oracle
    sphere's corners)."""
    squares = np.linspace(-bound, bound, density.shape[0], dtype=np.float32) ** 2
    outside = squares[:, None, None] + squares[None, :, None] + squares[None, None, :] > bound * bound
    return np.where(outside, np.zeros((), density.dtype), density)


def check_surface_exists(density: np.ndarray, bound: float, threshold: float) -> None:
    """Raise EngineError("mesh") with the density range and a suggested threshold when there is no surface."""
    low, high = float(density.min()), float(density.max())
    if low < threshold < high:
        return
    if high <= 0.0 or high == low:
        raise EngineError(
            f"the density is {high:.4g} everywhere, so there is no surface at any threshold: "
            "the run learned no object; generate it again (more steps or another seed)",
            "mesh",
        )
    raise EngineError(
        f"no surface at threshold {threshold:.4g}: the density ranges from {low:.4g} to {high:.4g}; "
        f"try a threshold of {auto_threshold(density, bound):.4g}",
        "mesh",
    )
