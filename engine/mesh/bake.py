"""Albedo bake from the stored albedo grid: per-vertex color, or a UV texture with padded seams.

Albedo values are the field's, in the renderer's sRGB display space (the prior judged renders as
ordinary images), so a texture stores them as they are and vertex colors are converted to linear
for the Blender-ready file. numpy at import; scipy comes in through ``fill_from_nearest``.
"""

from __future__ import annotations

import numpy as np

from .density_grid import DensityGrid, fill_from_nearest, sample_trilinear

RASTER_BATCH = 1 << 20  # candidate texels tested at once (bounds memory to ~50 MB)


def vertex_albedo(grid: DensityGrid, vertices: np.ndarray) -> np.ndarray:
    """(N, 3) float32 display-space albedo in [0, 1] at each vertex."""
    return sample_trilinear(grid.albedo, grid.bound, vertices) / 255.0


def bake_texture(grid: DensityGrid, vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) uint8 sRGB albedo texture for per-loop ``uvs``; texels outside every chart take the
    nearest chart texel's color, so bilinear filtering and mipmaps never pull in a seam color."""
    positions, covered = rasterize_positions(uvs.reshape(-1, 3, 2), vertices[faces], size)
    image = np.zeros((size, size, 3), dtype=np.uint8)
    image[covered] = (sample_trilinear(grid.albedo, grid.bound, positions[covered]) + 0.5).astype(np.uint8)
    return fill_from_nearest(image, covered)


def rasterize_positions(uv_corners: np.ndarray, corners: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The 3D point under each texel centre: (size, size, 3) positions and (size, size) coverage.

    ``uv_corners`` (M, 3, 2) and ``corners`` (M, 3, 3) per face; row 0 of the image is v = 1. Faces are
    grouped by the size of their texel bounding box and tested against every texel centre in it at once.
    """
    pixel = np.empty_like(uv_corners, dtype=np.float64)
    pixel[..., 0] = uv_corners[..., 0] * size - 0.5
    pixel[..., 1] = (1.0 - uv_corners[..., 1]) * size - 0.5
    low = np.clip(np.ceil(pixel.min(axis=1)), 0, size - 1).astype(np.int64)
    high = np.clip(np.floor(pixel.max(axis=1)), 0, size - 1).astype(np.int64)
    side = (high - low).max(axis=1) + 1
    edge_b, edge_c = pixel[:, 1] - pixel[:, 0], pixel[:, 2] - pixel[:, 0]
    area = edge_b[:, 0] * edge_c[:, 1] - edge_c[:, 0] * edge_b[:, 1]
    drawable = (high >= low).all(axis=1) & (np.abs(area) > 1e-12)
    positions = np.zeros((size, size, 3), dtype=np.float32)
    covered = np.zeros((size, size), dtype=bool)
    for box in np.unique(side[drawable]):
        offsets = np.stack(np.meshgrid(np.arange(box), np.arange(box), indexing="xy"), axis=-1).reshape(-1, 2)
        group = np.flatnonzero(drawable & (side == box))
        for start in range(0, len(group), max(1, RASTER_BATCH // len(offsets))):
            face = group[start : start + max(1, RASTER_BATCH // len(offsets))]
            texel = low[face, None, :] + offsets[None]  # (F, box*box, 2) as (x, y)
            rel = texel - pixel[face, None, 0]
            weight_b = (rel[..., 0] * edge_c[face, None, 1] - edge_c[face, None, 0] * rel[..., 1]) / area[face, None]
            weight_c = (edge_b[face, None, 0] * rel[..., 1] - rel[..., 0] * edge_b[face, None, 1]) / area[face, None]
            weight_a = 1.0 - weight_b - weight_c
            inside = (weight_a >= -1e-9) & (weight_b >= -1e-9) & (weight_c >= -1e-9)
            inside &= (texel <= high[face, None, :]).all(axis=2)
            point = (
                weight_a[..., None] * corners[face, None, 0]
                + weight_b[..., None] * corners[face, None, 1]
                + weight_c[..., None] * corners[face, None, 2]
            )
            x, y = texel[inside][:, 0], texel[inside][:, 1]
            positions[y, x] = point[inside]
            covered[y, x] = True
    return positions, covered
