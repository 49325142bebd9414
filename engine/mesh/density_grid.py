"""The sampled field kept in the run folder (``density_grid.npz``), so a mesh can be re-extracted
at another threshold without the optimizer, the field or torch.

Layout (numpy, no pickle): ``density[i, j, k]`` is tau at ``(x_i, y_j, z_k)`` with
``x_i = -bound + i * 2 * bound / (R - 1)`` (Blender axes, metres), stored as float16 (three
significant digits are plenty to place a surface); ``albedo`` is the field's albedo on a
half-resolution lattice of the same box, as uint8 in the renderer's (sRGB display) space.
Albedo samples in empty space are meaningless (nothing there was ever rendered), so before
storing, each one is replaced by the nearest sample inside or near the object: color then
never bleeds in from the void, whatever threshold the surface is later extracted at.
``surface_density`` (optional) is the level of a field that defines its surface (a signed-distance field's
zero level); without it the surface level is found from the density (``threshold.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import distance_transform_edt, zoom

from ..errors import EngineError
from . import versioned_npz
from .threshold import auto_threshold

FORMAT_VERSION = 1
GRID_FILE = "density_grid.npz"
CHUNK_POINTS = 1 << 18  # points per call of the field: bounds memory whatever the resolution
TRUSTED_FRACTION = 0.5  # albedo samples at least this share of the automatic threshold are kept as sampled
_FLOAT16_MAX = float(np.finfo(np.float16).max)

PointFunction = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[float], None]


@dataclass
class DensityGrid:
    """Density (R, R, R) float32 and albedo (Ra, Ra, Ra, 3) uint8 over the box [-bound, bound]^3."""

    density: np.ndarray
    albedo: np.ndarray
    bound: float
    surface_density: float | None = None  # the field's own surface level, when it has one

    @property
    def spacing(self) -> float:
        return 2.0 * self.bound / (self.density.shape[0] - 1)


def lattice(resolution: int, bound: float) -> np.ndarray:
    """The sample coordinates along one axis."""
    return np.linspace(-bound, bound, resolution, dtype=np.float32)


def sample_lattice(fn: PointFunction, resolution: int, bound: float, channels: int, progress: Progress) -> np.ndarray:
    """``fn`` at every lattice point, (R, R, R) or (R, R, R, C), called on at most CHUNK_POINTS points at a time."""
    axis = lattice(resolution, bound)
    total = resolution**3
    out = np.empty((total, channels), dtype=np.float32)
    for start in range(0, total, CHUNK_POINTS):
        stop = min(start + CHUNK_POINTS, total)
        i, rest = np.divmod(np.arange(start, stop), resolution * resolution)
        j, k = np.divmod(rest, resolution)
        points = np.stack([axis[i], axis[j], axis[k]], axis=1)
        out[start:stop] = np.asarray(fn(points), dtype=np.float32).reshape(stop - start, channels)
        progress(stop / total)
    shape = (resolution, resolution, resolution)
    return out.reshape(*shape, channels) if channels > 1 else out.reshape(shape)


def sample_trilinear(values: np.ndarray, bound: float, points: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of a lattice (R, R, R[, C]) over [-bound, bound]^3 at (N, 3) points.

    Points outside the box are clamped to it. Returns float32 (N,) or (N, C).
    """
    resolution = values.shape[0]
    flat = values.reshape(resolution**3, -1)
    coords = (np.asarray(points, dtype=np.float32) + bound) * ((resolution - 1) / (2.0 * bound))
    coords = np.clip(coords, 0.0, resolution - 1)
    base = np.minimum(coords.astype(np.int64), resolution - 2)
    frac = coords - base
    base_index = (base[:, 0] * resolution + base[:, 1]) * resolution + base[:, 2]
    out = np.zeros((len(coords), flat.shape[1]), dtype=np.float32)
    for corner in range(8):
        offset = ((corner >> 2) & 1, (corner >> 1) & 1, corner & 1)
        weight = np.ones(len(coords), dtype=np.float32)
        for axis, step in enumerate(offset):
            weight *= frac[:, axis] if step else 1.0 - frac[:, axis]
        index = base_index + (offset[0] * resolution + offset[1]) * resolution + offset[2]
        out += np.take(flat, index, axis=0) * weight[:, None]
    return out if values.ndim == 4 else out[:, 0]


def sample_field(
    density_fn: PointFunction,
    albedo_fn: PointFunction,
    resolution: int,
    bound: float,
    progress: Progress | None = None,
    surface_density: float | None = None,
) -> DensityGrid:
    """Sample the trained field: density at ``resolution``^3, albedo at half that, empty space filled."""
    report = progress or (lambda fraction: None)
    albedo_resolution = max(2, resolution // 2)
    density_share = 8.0 / 9.0  # density takes eight times the albedo's calls
    density = sample_lattice(density_fn, resolution, bound, 1, lambda f: report(density_share * f))
    density = np.nan_to_num(density, nan=0.0, posinf=_FLOAT16_MAX, neginf=0.0)
    density = np.clip(density, 0.0, _FLOAT16_MAX)
    albedo = sample_lattice(
        albedo_fn, albedo_resolution, bound, 3, lambda f: report(density_share + (1 - density_share) * f)
    )
    albedo = np.clip(np.nan_to_num(albedo, nan=0.5), 0.0, 1.0)
    # Trilinear density at the albedo lattice (zoom maps corner samples onto corner samples).
    density_at_albedo = zoom(density, albedo_resolution / resolution, order=1, prefilter=False)
    level = surface_density if surface_density is not None else auto_threshold(density, bound)
    trusted = density_at_albedo >= TRUSTED_FRACTION * level
    albedo = _to_uint8(fill_from_nearest(albedo, trusted))
    return DensityGrid(density=density, albedo=albedo, bound=bound, surface_density=surface_density)


def fill_from_nearest(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Replace every entry where ``known`` is False by the nearest known one (unchanged if none is known)."""
    if known.all() or not known.any():
        return values
    nearest = distance_transform_edt(~known, return_distances=False, return_indices=True)
    return values[tuple(nearest)]


def _to_uint8(unit: np.ndarray) -> np.ndarray:
    return (np.clip(unit, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def surface_level(grid: DensityGrid) -> float:
    """The density level the surface is extracted at when nobody asks for another: the field's own, else found."""
    return grid.surface_density if grid.surface_density is not None else auto_threshold(grid.density, grid.bound)


def save_grid(path: Path, grid: DensityGrid) -> None:
    """Write ``density_grid.npz`` atomically (compressed: a run folder keeps it for good)."""
    arrays = {
        "bound": np.array(grid.bound, dtype=np.float32),
        "density": grid.density.astype(np.float16),
        "albedo": grid.albedo,
    }
    if grid.surface_density is not None:
        arrays["surface_density"] = np.array(grid.surface_density, dtype=np.float32)
    versioned_npz.save(path, FORMAT_VERSION, arrays, compressed=True)


def load_grid(path: Path) -> DensityGrid:
    """Read and validate ``density_grid.npz``; a missing or corrupt file is an EngineError naming it."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(
            f"no density grid at {path}: this run never reached the mesh stage; generate it again", "mesh"
        )
    try:
        arrays = versioned_npz.load(path, FORMAT_VERSION)
        surface = float(arrays["surface_density"]) if "surface_density" in arrays else None
        grid = DensityGrid(
            density=arrays["density"].astype(np.float32),
            albedo=arrays["albedo"],
            bound=float(arrays["bound"]),
            surface_density=surface,
        )
    except Exception as exc:  # zip, zlib, key, shape and version errors all mean the same thing to a user
        raise EngineError(f"the density grid {path} is corrupt ({exc}); generate the run again", "mesh") from exc
    problem = _grid_problem(grid)
    if problem:
        raise EngineError(f"the density grid {path} is corrupt ({problem}); generate the run again", "mesh")
    return grid


def _grid_problem(grid: DensityGrid) -> str | None:
    """What is wrong with a loaded grid, or None."""
    density, albedo = grid.density, grid.albedo
    if density.ndim != 3 or len(set(density.shape)) != 1 or density.shape[0] < 2:
        return f"density has shape {density.shape}, not a cube"
    if albedo.ndim != 4 or albedo.shape[3] != 3 or len(set(albedo.shape[:3])) != 1 or albedo.shape[0] < 2:
        return f"albedo has shape {albedo.shape}, not a cube of RGB"
    if albedo.dtype != np.uint8:
        return f"albedo is {albedo.dtype}, not uint8"
    if not np.isfinite(grid.bound) or grid.bound <= 0:
        return f"bound is {grid.bound}"
    if not np.isfinite(density).all():
        return "density has non-finite values"
    if grid.surface_density is not None and not (np.isfinite(grid.surface_density) and grid.surface_density > 0):
        return f"surface_density is {grid.surface_density}"
    return None
