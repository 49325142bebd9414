"""A triangle rasterizer in plain torch, differentiable in the vertex positions (CPU or any device).

Split as nvdiffrast splits it (Laine et al. 2020): visibility (which triangle each pixel centre sees) is found
without gradients, by projecting the triangles, testing the pixel centres in each triangle's bounding box with
barycentric coordinates and keeping the nearest depth per pixel (``scatter_reduce`` "amin"); then everything a
pixel shows (its point, its normal, its albedo) is recomputed from the winning triangle's vertices through
perspective-correct barycentrics, so gradients reach the vertices (nvdiffrast's ``interpolate``). The silhouette
is antialiased as nvdiffrast's ``antialias`` does it: where a pixel of the object borders a background pixel, the
object's edge crossing the segment between their centres blends the two by how far it lies from the middle, so
moving the edge changes the image and its gradient moves the silhouette.

No well-kept CPU rasterizer fits: nvdiffrast and PyTorch3D need a compiled extension (nvdiffrast a GPU), and
the project's engine installs no compiler. At a few hundred pixels and tens of thousands of triangles this one
takes tens of milliseconds a view on one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..cameras import Cameras

NEAR = 1e-3  # triangles with a vertex closer to the camera plane than this (metres) are not drawn


@dataclass
class Fragments:
    """What each pixel of one view sees: its triangle (-1: background) and, for the covered pixels, the
    perspective-correct barycentrics (differentiable in the vertices) and depth."""

    face: torch.Tensor  # (H, W) long
    pixels: torch.Tensor  # (N,) flat indices of the covered pixels
    barycentric: torch.Tensor  # (N, 3)
    screen: torch.Tensor  # (V, 2) vertex positions in pixels (column, row; pixel i's centre at i), with gradients
    depth: torch.Tensor  # (V,) distance along the view axis, with gradients


def project(vertices: torch.Tensor, camera: Cameras, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(V, 3) world points -> pixel coordinates (V, 2) and view depth (V,) for the single camera ``camera``,
    matching ``Cameras.rays`` (row 0 on top, pixel centres at integers)."""
    local = (vertices - camera.position[0]) @ camera.rotation[0]  # columns: right, up, backward
    depth = -local[:, 2]
    tan_half = torch.tan(camera.fovy[0] / 2)
    safe = depth.clamp_min(NEAR)
    x = local[:, 0] / (safe * tan_half)
    y = local[:, 1] / (safe * tan_half)
    column = (x + 1.0) * 0.5 * resolution - 0.5
    row = (1.0 - y) * 0.5 * resolution - 0.5
    return torch.stack([column, row], dim=-1), depth


def _edge_functions(corners: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Screen-space barycentrics (..., 3) of ``points`` (..., 2) in triangles ``corners`` (..., 3, 2); not
    normalized by orientation (they sum to 1; all >= 0 inside, whichever way the triangle winds)."""
    a, b, c = corners.unbind(-2)
    area = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
    area = torch.where(area.abs() < 1e-12, torch.full_like(area, 1e-12), area)

    def cross(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return (q[..., 0] - p[..., 0]) * (points[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (
            points[..., 0] - p[..., 0]
        )

    return torch.stack([cross(b, c), cross(c, a), cross(a, b)], dim=-1) / area.unsqueeze(-1)


def _perspective(screen_bary: torch.Tensor, corner_depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Perspective-correct barycentrics and the depth at the point, from screen-space ones."""
    weighted = screen_bary / corner_depth
    inverse_depth = weighted.sum(dim=-1, keepdim=True)
    return weighted / inverse_depth, 1.0 / inverse_depth.squeeze(-1)


@torch.no_grad()
def visible_faces(screen: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, resolution: int) -> torch.Tensor:
    """(H, W) index of the nearest triangle whose interior holds each pixel centre; -1 where none does."""
    corners, corner_depth = screen[faces], depth[faces]
    low = corners.min(dim=1).values.ceil().clamp(0, resolution - 1).long()
    high = corners.max(dim=1).values.floor().clamp(-1, resolution - 1).long()
    extent = (high - low + 1).clamp_min(0)
    in_front = (corner_depth > NEAR).all(dim=1)
    off_screen = (corners.max(dim=1).values < 0).any(dim=1) | (corners.min(dim=1).values > resolution - 1).any(dim=1)
    counts = torch.where(in_front & ~off_screen, extent[:, 0] * extent[:, 1], torch.zeros_like(extent[:, 0]))
    face = torch.repeat_interleave(torch.arange(len(faces), device=faces.device), counts)
    if face.numel() == 0:
        return torch.full((resolution, resolution), -1, dtype=torch.long, device=faces.device)
    start = torch.cumsum(counts, 0) - counts
    local = torch.arange(face.numel(), device=faces.device) - start[face]
    width = extent[face, 0]
    column, row = low[face, 0] + local % width, low[face, 1] + local // width
    points = torch.stack([column, row], dim=-1).to(screen.dtype)
    bary = _edge_functions(corners[face], points)
    inside = (bary >= 0).all(dim=-1)
    face, column, row, bary = face[inside], column[inside], row[inside], bary[inside]
    _, point_depth = _perspective(bary, corner_depth[face])
    pixel = row * resolution + column
    nearest = torch.full((resolution * resolution,), float("inf"), dtype=screen.dtype, device=screen.device)
    nearest.scatter_reduce_(0, pixel, point_depth, reduce="amin")
    winner = point_depth <= nearest[pixel]
    result = torch.full((resolution * resolution,), -1, dtype=torch.long, device=faces.device)
    result.scatter_reduce_(0, pixel[winner], face[winner], reduce="amax")
    return result.view(resolution, resolution)


def rasterize(vertices: torch.Tensor, faces: torch.Tensor, camera: Cameras, resolution: int) -> Fragments:
    """Visibility without gradients, then each covered pixel's barycentrics recomputed with them."""
    screen, depth = project(vertices, camera, resolution)
    face = visible_faces(screen.detach(), depth.detach(), faces, resolution)
    pixels = torch.nonzero(face.flatten() >= 0).squeeze(-1)
    owner = face.flatten()[pixels]
    centres = torch.stack([pixels % resolution, pixels // resolution], dim=-1).to(screen.dtype)
    bary, _ = _perspective(_edge_functions(screen[faces[owner]], centres), depth[faces[owner]])
    return Fragments(face=face, pixels=pixels, barycentric=bary, screen=screen, depth=depth)


def edge_neighbours(faces: torch.Tensor) -> torch.Tensor:
    """(F, 3) the face across each edge of each face (edge i is the one opposite corner i), -1 where no single
    other face shares it (a boundary, or an edge of three or more faces)."""
    count = int(faces.max()) + 1 if faces.numel() else 0
    corners = torch.stack([faces.roll(-1, dims=1), faces.roll(-2, dims=1)], dim=-1).reshape(-1, 2)  # (1,2) (2,0) (0,1)
    keys = corners.min(dim=1).values * count + corners.max(dim=1).values
    order = torch.argsort(keys)
    sorted_keys = keys[order]
    group_start = torch.ones_like(sorted_keys, dtype=torch.bool)
    group_start[1:] = sorted_keys[1:] != sorted_keys[:-1]
    group = torch.cumsum(group_start.long(), 0) - 1
    size = torch.bincount(group)[group]
    first = torch.nonzero(group_start).squeeze(-1)[group]  # the position of each half-edge's group's first
    other = torch.where(first == torch.arange(len(order), device=faces.device), first + 1, first)
    across = torch.where(size == 2, order[other.clamp_max(len(order) - 1)] // 3, torch.full_like(order, -1))
    result = torch.empty_like(across)
    result[order] = across
    return result.view(-1, 3)


def interpolate(attributes: torch.Tensor, faces: torch.Tensor, fragments: Fragments) -> torch.Tensor:
    """(N, C) per-vertex ``attributes`` (V, C) at the covered pixels, through their barycentrics."""
    owner = fragments.face.flatten()[fragments.pixels]
    return (attributes[faces[owner]] * fragments.barycentric.unsqueeze(-1)).sum(dim=1)


def antialias(image: torch.Tensor, faces: torch.Tensor, fragments: Fragments, neighbours: torch.Tensor) -> torch.Tensor:
    """(H, W, C) ``image`` with its silhouette blended over the background, differentiably in the vertices;
    ``neighbours`` is ``edge_neighbours(faces)``.

    For each pair of neighbouring pixels (across and down) where one shows a triangle and the other none, the
    segment between their centres leaves the triangle at a fraction s of it (from the covered centre). Where it
    leaves through a silhouette edge (one with no face across it, or one facing the other way), the pixel on the
    far side of the middle takes the other's color by how far the edge lies past the middle (|s - 1/2|), as a box
    filter of one pixel across the edge would give it. Where it leaves into a neighbouring face, the silhouette
    lies elsewhere and nothing is blended (as in nvdiffrast; at corners the two directions are approximate).
    """
    height, width = fragments.face.shape
    out = image.reshape(height * width, -1)
    blended = out
    index = torch.arange(height * width, device=image.device).view(height, width)
    pairs = (
        (index[:, :-1].flatten(), index[:, 1:].flatten()),  # across
        (index[:-1, :].flatten(), index[1:, :].flatten()),  # down
    )
    flat_face = fragments.face.flatten()
    corners_all = fragments.screen.detach()[faces]
    a, b, c = corners_all.unbind(1)
    facing = ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])) > 0
    across = facing[neighbours.clamp_min(0)]
    silhouette = (neighbours < 0) | (across != facing.unsqueeze(-1))  # (F, 3)
    for first, second in pairs:
        covered_first = (flat_face[first] >= 0) & (flat_face[second] < 0)
        covered_second = (flat_face[second] >= 0) & (flat_face[first] < 0)
        inner = torch.cat([first[covered_first], second[covered_second]])
        outer = torch.cat([second[covered_first], first[covered_second]])
        if inner.numel() == 0:
            continue
        corners = fragments.screen[faces[flat_face[inner]]]
        start = torch.stack([inner % width, inner // width], dim=-1).to(corners.dtype)
        end = torch.stack([outer % width, outer // width], dim=-1).to(corners.dtype)
        at_start, at_end = _edge_functions(corners, start), _edge_functions(corners, end)
        # Along the segment each barycentric is linear; the first to reach 0 marks where the segment leaves.
        falling = at_end < at_start
        crossing = torch.where(falling, at_start / (at_start - at_end).clamp_min(1e-12), torch.full_like(at_start, 2.0))
        s, edge = crossing.min(dim=-1)
        leaves = silhouette[flat_face[inner], edge.detach()]
        s = torch.where(leaves, s.clamp(0.0, 1.0), torch.full_like(s, 0.5))
        inner_color, outer_color = out[inner], out[outer]
        into_outer = (s - 0.5).clamp_min(0.0).unsqueeze(-1)  # the object reaches past the middle: outer is covered
        into_inner = (0.5 - s).clamp_min(0.0).unsqueeze(-1)  # the edge stops short of the middle: inner is not
        blended = blended.index_add(0, outer, into_outer * (inner_color - outer_color))
        blended = blended.index_add(0, inner, into_inner * (outer_color - inner_color))
    return blended.view_as(image)
