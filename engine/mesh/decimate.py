"""Quadric decimation to the run's face budget (Garland-Heckbert, through trimesh and fast-simplification).

Marching cubes spends faces evenly: a flat cube face gets as many as a beak. Quadric error decimation removes
them where the surface is flat and keeps them where it bends, so a 60k-face mesh keeps the shape of the 200k
one (measured against the ground truth in bench/REPORT.md: Chamfer within a few percent).
"""

from __future__ import annotations

import numpy as np
import trimesh

from .cleanup import drop_unused_vertices


def decimate(vertices: np.ndarray, faces: np.ndarray, face_budget: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The mesh with at most ``face_budget`` faces (unchanged when it already has fewer, or with no budget)."""
    if face_budget is None or len(faces) <= face_budget:
        return vertices, faces
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    reduced = mesh.simplify_quadric_decimation(face_count=face_budget)
    kept_vertices, kept_faces = drop_unused_vertices(
        np.asarray(reduced.vertices, dtype=np.float32), np.asarray(reduced.faces, dtype=np.int64)
    )
    return kept_vertices, kept_faces
