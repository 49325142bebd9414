"""A mesh drawn as the NeRF renderer draws the field, for a prior to score: the same shading model
(engine/shading.py: albedo, a point light, ambient; colored, textureless or ambient-only) over the same background,
so the prior sees the same kind of image before and after extraction.

Each pixel is shaded with its triangle's own normal (flat shading): a lump on a face shows as facets of other
brightness, which is what the refinement stage is to remove, and the normal's gradient reaches the vertices.
"""

from __future__ import annotations

import torch

from ..cameras import Cameras
from ..config import ShadingConfig
from ..shading import ShadingMode, shade
from .rasterize import antialias, edge_neighbours, interpolate, rasterize


def face_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(F, 3) unit normals by the faces' winding."""
    a, b, c = vertices[faces].unbind(1)
    normal = torch.cross(b - a, c - a, dim=-1)
    return normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def render_mesh(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    albedo: torch.Tensor,
    camera: Cameras,
    resolution: int,
    mode: ShadingMode,
    shading: ShadingConfig,
    background: torch.Tensor,
    neighbours: torch.Tensor | None = None,
) -> torch.Tensor:
    """(3, H, W) render of the mesh (vertices (V, 3), faces (F, 3), per-vertex ``albedo`` (V, 3)) by the single
    camera ``camera`` under its light, over ``background`` (3,). Normals face the camera, whichever way a
    triangle winds (the visible side of a closed surface is its outside). ``neighbours`` is
    ``edge_neighbours(faces)``, computed here when not given (a caller drawing one mesh many times passes it)."""
    fragments = rasterize(vertices, faces, camera, resolution)
    owner = fragments.face.flatten()[fragments.pixels]
    points = interpolate(vertices, faces, fragments)
    normals = face_normals(vertices, faces)[owner]
    toward = ((camera.position[0] - points) * normals).sum(dim=-1, keepdim=True).detach()
    normals = torch.where(toward < 0, -normals, normals)
    colors = shade(interpolate(albedo, faces, fragments), normals, points, camera.light[0], mode, shading)
    image = background.to(colors).expand(resolution * resolution, 3).index_copy(0, fragments.pixels, colors)
    neighbours = edge_neighbours(faces) if neighbours is None else neighbours
    image = antialias(image.view(resolution, resolution, 3), faces, fragments, neighbours)
    return image.permute(2, 0, 1)
