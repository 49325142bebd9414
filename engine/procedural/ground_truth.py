"""The ground-truth mesh of a prompt's scene: marching cubes of its SDF, per-vertex albedo from the scene.

Same coordinates as the engine's result (Blender axes, metres), so a result can be compared with it directly.
"""

from __future__ import annotations

import mcubes
import numpy as np
import torch

from ..mesh.file_format import MeshData
from .scene import Scene

_CHUNK = 1 << 18  # points per SDF evaluation


def scene_mesh(scene: Scene, resolution: int = 128) -> MeshData:
    """A watertight triangle mesh of the scene (faces counter-clockwise seen from outside)."""
    half = scene.radius * 1.05
    axis = torch.linspace(-half, half, resolution)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    with torch.no_grad():
        distance = torch.cat([scene.distance(chunk) for chunk in grid.split(_CHUNK)])
    inside = (-distance).reshape(resolution, resolution, resolution).numpy().astype(np.float64)
    vertices, faces = mcubes.marching_cubes(inside, 0.0)
    vertices = (vertices * (2.0 * half / (resolution - 1)) - half).astype(np.float32)
    with torch.no_grad():
        albedo = scene.albedo(torch.from_numpy(vertices)).numpy()
    return MeshData(vertices=vertices, faces=faces.astype(np.int32), colors=albedo)
