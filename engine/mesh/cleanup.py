"""Mesh clean-up after marching cubes: floaters out, staircase smoothed, unused vertices dropped."""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

TAUBIN_LAMBDA = 0.5  # shrink step
TAUBIN_NU = 0.53  # inflate step, slightly larger: Taubin smoothing keeps volume where Laplacian shrinks it


def drop_small_components(
    vertices: np.ndarray, faces: np.ndarray, min_fraction: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Remove connected pieces with fewer than ``min_fraction`` of all faces (the largest always stays).

    Returns the kept vertices and faces and how many pieces were dropped.
    """
    if len(faces) == 0:
        return vertices, faces, 0
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges), np.int8), (edges[:, 0], edges[:, 1])), shape=(len(vertices),) * 2)
    _, vertex_label = connected_components(graph, directed=False)
    face_label = vertex_label[faces[:, 0]]
    labels, counts = np.unique(face_label, return_counts=True)
    keep = (counts >= min_fraction * len(faces)) | (counts == counts.max())
    kept_faces = faces[np.isin(face_label, labels[keep])]
    kept_vertices, kept_faces = drop_unused_vertices(vertices, kept_faces)
    return kept_vertices, kept_faces, int((~keep).sum())


def drop_unused_vertices(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices referenced by ``faces`` only, with faces re-indexed."""
    used, new_faces = np.unique(faces, return_inverse=True)
    return vertices[used], new_faces.reshape(faces.shape).astype(np.int32)


def smooth(vertices: np.ndarray, faces: np.ndarray, iterations: int) -> np.ndarray:
    """Taubin smoothing: softens marching cubes' voxel staircase without shrinking the object."""
    if iterations <= 0 or len(faces) == 0:
        return vertices
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    trimesh.smoothing.filter_taubin(mesh, lamb=TAUBIN_LAMBDA, nu=TAUBIN_NU, iterations=iterations)
    return np.asarray(mesh.vertices, dtype=np.float32)
