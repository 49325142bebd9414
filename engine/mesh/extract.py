"""Marching cubes on the stored density grid.

numpy, scipy and PyMCubes only (no torch), so ``python -m engine remesh`` re-extracts from
``density_grid.npz`` in about a second. The grid is padded with empty space, so a surface that touches
the box is closed: every mesh is watertight. Faces wind counter-clockwise seen from the side where
density is below the threshold, so normals point out of the solid (into a cavity for a cavity's wall).
"""

from __future__ import annotations

import mcubes
import numpy as np
from scipy.ndimage import zoom

from ..errors import EngineError
from .threshold import auto_threshold

MIN_BUDGET_RESOLUTION = 16  # a face budget never shrinks the grid below this
BUDGET_MARGIN = 0.95  # aim a little under the budget: face counts do not scale exactly with area


def extract_surface(density: np.ndarray, bound: float, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The isosurface {density = threshold}: vertices (N, 3) float32 in metres, faces (M, 3) int32."""
    check_surface_exists(density, bound, threshold)
    vertices, faces = mcubes.marching_cubes(np.pad(density, 1), float(threshold))
    spacing = 2.0 * bound / (density.shape[0] - 1)
    vertices = ((vertices - 1.0) * spacing - bound).astype(np.float32)
    return vertices, faces.astype(np.int32)


def extract_within_budget(
    density: np.ndarray, bound: float, threshold: float, face_budget: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """``extract_surface``, re-run on a coarser copy of the grid while the mesh has more than ``face_budget`` faces.

    Marching cubes' face count grows with the square of the resolution, so resampling the grid is a
    decimation that keeps the mesh watertight and evenly sized; detail finer than the coarser grid is lost.
    """
    vertices, faces = extract_surface(density, bound, threshold)
    resolution = density.shape[0]
    while face_budget is not None and len(faces) > face_budget and resolution > MIN_BUDGET_RESOLUTION:
        scale = BUDGET_MARGIN * np.sqrt(face_budget / len(faces))
        resolution = max(MIN_BUDGET_RESOLUTION, min(resolution - 1, int(resolution * scale)))
        coarse = zoom(density, resolution / density.shape[0], order=1, prefilter=False, grid_mode=False)
        vertices, faces = extract_surface(coarse, bound, threshold)
    return vertices, faces


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
