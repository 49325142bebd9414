"""The automatic isosurface threshold: the density level whose surface looks like the renders.

The renderer composites alpha = 1 - exp(-tau * delta) along each ray, so a ray looks opaque once its
optical depth (the integral of tau along it) passes ln 2, an opacity of 0.5. No fixed density means
"surface" for every field: the initial blob peaks near 10, trained objects reach tens to hundreds, and
how sharply density rises at the boundary varies. So the level is read off the field itself:

1. Each line of the grid along x, y and z stands for a ray of the renderer. Its rendered silhouette is
   the set of lines whose optical depth reaches ln 2; its rendered surface is where, coming in from
   either end, the depth reaches ln 2.
2. A threshold t gives a mesh whose silhouette is the set of lines whose peak density is at least t.
   A threshold is admissible when that silhouette matches the rendered one to within one line
   everywhere (it covers the rendered silhouette shrunk by a line and stays inside it grown by a
   line), up to SILHOUETTE_TOLERANCE of the silhouette's lines more than the best level misses: this
   keeps thin, less dense parts that a high level would cut, and leaves out faint fog that a low
   level would wrap in skin.
3. Among those, the one nearest (in log) to the median density at the rendered surface is chosen, so
   the mesh sits where the renders show the surface.

If no line is opaque (a faint field) the level is half the peak density, so the faint shape still
meshes. The estimate runs on the grid strided to about ESTIMATE_RESOLUTION per axis: it is a
statistic, not a surface. numpy only.
"""

from __future__ import annotations

import math

import numpy as np

OPAQUE_DEPTH = math.log(2.0)  # optical depth at which a ray's opacity is 0.5
SILHOUETTE_TOLERANCE = 0.002  # share of silhouette lines a threshold may get wrong beyond the best one
ESTIMATE_RESOLUTION = 128
CANDIDATES = 128  # log-spaced levels tried between 1e-4 of the peak and the peak
FAINT_FIELD_FRACTION = 0.5  # of the peak density, when nothing renders opaque


def auto_threshold(density: np.ndarray, bound: float) -> float:
    """The level whose isosurface best matches what the renderer shows (see the module docstring)."""
    peak = float(density.max())
    if peak <= 0.0:
        return 0.0
    stride = max(1, density.shape[0] // ESTIMATE_RESOLUTION)
    tau = np.asarray(density[::stride, ::stride, ::stride], dtype=np.float32)
    step = stride * 2.0 * bound / (density.shape[0] - 1)
    inside_peaks, outside_peaks, surface_parts = [], [], []
    silhouette_lines = 0
    for axis in range(3):
        rays = np.moveaxis(tau, axis, -1)
        opaque = rays.sum(axis=2) * step >= OPAQUE_DEPTH
        silhouette_lines += int(opaque.sum())
        inside_peaks.append(rays.max(axis=2)[_grow(opaque, grow=False)])
        outside_peaks.append(rays.max(axis=2)[~_grow(opaque, grow=True)])
        surface_parts.append(_density_at_depth(rays[opaque], step))
        surface_parts.append(_density_at_depth(rays[opaque][:, ::-1], step))
    if silhouette_lines == 0:
        return FAINT_FIELD_FRACTION * peak
    levels = np.geomspace(peak * 1e-4, peak * 0.999, CANDIDATES)
    inside, outside = np.sort(np.concatenate(inside_peaks)), np.sort(np.concatenate(outside_peaks))
    missed = np.searchsorted(inside, levels, side="left")  # lines that should be meshed and are not
    extra = len(outside) - np.searchsorted(outside, levels, side="left")  # lines meshed that render empty
    wrong = (missed + extra) / silhouette_lines
    admissible = levels[wrong <= wrong.min() + SILHOUETTE_TOLERANCE]
    target = float(np.median(np.concatenate(surface_parts)))
    return float(admissible[np.argmin(np.abs(np.log(admissible) - math.log(target)))])


def _grow(mask: np.ndarray, grow: bool) -> np.ndarray:
    """A 2D mask grown (dilated) or shrunk (eroded) by one line in the four axis directions."""
    padded = np.pad(mask, 1, mode="edge")
    shifted = [padded[1:-1, 1:-1], padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
    return np.logical_or.reduce(shifted) if grow else np.logical_and.reduce(shifted)


def _density_at_depth(rays: np.ndarray, step: float) -> np.ndarray:
    """Density where each ray's optical depth, accumulated from index 0, first reaches OPAQUE_DEPTH."""
    depth = np.cumsum(rays, axis=1) * step
    index = np.argmax(depth >= OPAQUE_DEPTH, axis=1)
    rows = np.arange(len(rays))
    before = index > 0
    depth_before = np.where(before, depth[rows, index - 1], 0.0)
    tau_before = np.where(before, rays[rows, index - 1], 0.0)
    depth_after, tau_after = depth[rows, index], rays[rows, index]
    fraction = (OPAQUE_DEPTH - depth_before) / np.maximum(depth_after - depth_before, 1e-12)
    return tau_before + fraction * (tau_after - tau_before)
