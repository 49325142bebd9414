"""UV unwrap for the texture bake: box-projection charts, packed into one square atlas by xatlas.

xatlas's own charting took 67 s (its defaults) for a 125k-face marching-cubes mesh on two cores, too slow
for an export step. Marching-cubes meshes are dense and smooth, so simpler charts do: each face goes to
the axis direction its normal faces most (six directions), a few rounds of majority vote among edge
neighbours remove single-face specks, and each connected region of one direction is projected flat onto
that direction's plane (area stretch at most sqrt(3), no flipped triangles). xatlas then only packs the
charts (well under a second).
"""

from __future__ import annotations

import numpy as np
import xatlas
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

VOTE_ROUNDS = 3
PADDING_TEXELS = 2
START_UTILIZATION = 0.6  # share of the atlas the charts are first scaled to fill
RETRY_SCALE = 0.8  # shrink the charts by this (in area) while they do not fit one atlas
MAX_PACK_TRIES = 12

# For direction label 2 * axis + (normal component > 0): the (u, v) axes and their signs, chosen so the
# projected triangles are counter-clockwise and v runs along +Z on the side charts. (xatlas's packer may
# still mirror a chart: harmless for albedo, which has no tangent space.)
_U_AXIS = np.array([1, 1, 0, 0, 0, 0])
_U_SIGN = np.array([-1.0, 1.0, 1.0, -1.0, -1.0, 1.0])
_V_AXIS = np.array([2, 2, 2, 2, 1, 1])


def unwrap(vertices: np.ndarray, faces: np.ndarray, texture_size: int) -> np.ndarray:
    """Per-loop UVs (M * 3, 2) float32 in [0, 1], Blender's convention (origin bottom left), one atlas."""
    normals = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    neighbours = face_neighbours(faces)
    direction = _vote(_facing_direction(normals), neighbours, normals)
    chart = _charts(direction, neighbours)
    charts = int(chart.max()) + 1
    chart_vertex, loop_uv_vertex = np.unique(faces.astype(np.int64) * charts + chart[:, None], return_inverse=True)
    uv_vertex = chart_vertex // charts  # a vertex on a chart border gets one UV vertex per chart
    uv_direction = np.empty(len(chart_vertex), dtype=np.int64)
    uv_direction[loop_uv_vertex.ravel()] = np.repeat(direction, 3)
    points = vertices[uv_vertex]
    rows = np.arange(len(points))
    flat = np.stack(
        [_U_SIGN[uv_direction] * points[rows, _U_AXIS[uv_direction]], points[rows, _V_AXIS[uv_direction]]], axis=1
    ).astype(np.float32)
    indices = loop_uv_vertex.reshape(faces.shape).astype(np.uint32)
    corners = flat[indices]
    area = 0.5 * np.abs(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])).sum()
    utilization = START_UTILIZATION
    for attempt in range(MAX_PACK_TRIES + 1):
        fixed_size = attempt < MAX_PACK_TRIES  # last resort: an atlas of xatlas's size, scaled into the texture
        atlas = xatlas.Atlas()
        atlas.add_uv_mesh(flat, indices, chart.astype(np.uint32)[:, None])
        pack = xatlas.PackOptions()
        pack.resolution = texture_size if fixed_size else 0
        pack.padding = PADDING_TEXELS
        pack.bilinear = True
        pack.blockAlign = texture_size >= 512  # faster packing, too coarse for small textures
        pack.texels_per_unit = float(texture_size * np.sqrt(utilization / max(area, 1e-12)))
        atlas.generate(xatlas.ChartOptions(), pack)
        if atlas.atlas_count == 1:
            break
        utilization *= RETRY_SCALE
    _, packed_indices, packed_uvs = atlas[0]
    return packed_uvs[packed_indices].reshape(-1, 2).astype(np.float32)


def face_neighbours(faces: np.ndarray) -> np.ndarray:
    """(M, 3): the face across each edge (v0v1, v1v2, v2v0), or -1 on a boundary or non-manifold edge."""
    edges = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2).astype(np.int64)
    key = np.minimum(edges[:, 0], edges[:, 1]) * (int(faces.max()) + 1) + np.maximum(edges[:, 0], edges[:, 1])
    order = np.argsort(key, kind="stable")
    _, start, count = np.unique(key[order], return_index=True, return_counts=True)
    shared = start[count == 2]  # an edge of exactly two faces
    first, second = order[shared], order[shared + 1]
    neighbours = np.full(len(edges), -1, dtype=np.int64)
    neighbours[first] = second // 3
    neighbours[second] = first // 3
    return neighbours.reshape(-1, 3)


def _facing_direction(normals: np.ndarray) -> np.ndarray:
    axis = np.abs(normals).argmax(axis=1)
    return 2 * axis + (normals[np.arange(len(normals)), axis] > 0)


def _vote(direction: np.ndarray, neighbours: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Take the direction two edge neighbours agree on, where the face still faces it (no flipped triangles)."""
    rows = np.arange(len(direction))
    for _ in range(VOTE_ROUNDS):
        around = np.where(neighbours >= 0, direction[neighbours], -1)
        for first, second in ((0, 1), (1, 2), (0, 2)):
            agreed = around[:, first]
            candidate = (agreed >= 0) & (agreed == around[:, second]) & (agreed != direction)
            axis, positive = agreed // 2, agreed % 2 == 1
            facing = np.where(positive, 1.0, -1.0) * normals[rows, np.maximum(axis, 0)] > 0
            direction = np.where(candidate & facing, agreed, direction)
    return direction


def _charts(direction: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Chart id per face: connected regions of edge neighbours facing the same direction."""
    face = np.repeat(np.arange(len(direction)), 3)
    other = neighbours.ravel()
    same = (other >= 0) & (direction[face] == direction[np.maximum(other, 0)])
    graph = coo_matrix((np.ones(same.sum(), np.int8), (face[same], other[same])), shape=(len(direction),) * 2)
    return connected_components(graph, directed=False)[1]
