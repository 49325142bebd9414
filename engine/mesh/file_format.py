"""Mesh files: the Blender-ready ``mesh.npz`` and the GLB for other tools.

numpy only at import time (the add-on reads ``mesh.npz`` inside Blender); trimesh is imported
by the GLB functions alone. Arrays are in metres on Blender axes (Z up, front -Y); the GLB is
converted to glTF's Y-up on write and back on read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1

# Blender (x, y, z) -> glTF (x, z, -y), and back.
_Z_UP_TO_Y_UP = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float32)


@dataclass
class MeshData:
    """A triangle mesh with per-vertex albedo and optional per-loop UVs plus texture."""

    vertices: np.ndarray  # (N, 3) float32
    faces: np.ndarray  # (M, 3) int32
    colors: np.ndarray  # (N, 4) float32, linear RGBA
    uvs: np.ndarray | None = None  # (M * 3, 2) float32
    texture: str | None = None  # PNG file name beside the npz

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int32)
        colors = np.asarray(self.colors, dtype=np.float32)
        if colors.shape[1] == 3:
            colors = np.concatenate([colors, np.ones((len(colors), 1), np.float32)], axis=1)
        self.colors = np.ascontiguousarray(colors)
        if self.uvs is not None:
            self.uvs = np.ascontiguousarray(self.uvs, dtype=np.float32)


class MeshFileError(ValueError):
    """A mesh file that is missing, corrupt or of another version."""


def write_npz(path: Path, mesh: MeshData) -> None:
    """Write atomically: a crash leaves the previous file, never a partial one."""
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int32),
        "vertices": mesh.vertices,
        "faces": mesh.faces,
        "colors": mesh.colors,
    }
    if mesh.uvs is not None:
        arrays["uvs"] = mesh.uvs
    if mesh.texture is not None:
        arrays["texture"] = np.array(mesh.texture)
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(partial, path)


def read_npz(path: Path) -> MeshData:
    """Read and validate a ``mesh.npz``."""
    path = Path(path)
    if not path.is_file():
        raise MeshFileError(f"no mesh file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"])
            if version != FORMAT_VERSION:
                raise MeshFileError(f"{path} has mesh format {version}; this version reads {FORMAT_VERSION}")
            mesh = MeshData(
                vertices=data["vertices"],
                faces=data["faces"],
                colors=data["colors"],
                uvs=data["uvs"] if "uvs" in data else None,
                texture=str(data["texture"]) if "texture" in data else None,
            )
    except (OSError, KeyError, ValueError) as exc:
        if isinstance(exc, MeshFileError):
            raise
        raise MeshFileError(f"{path} is not a readable mesh file ({exc})") from exc
    if mesh.faces.size and (mesh.faces.min() < 0 or mesh.faces.max() >= len(mesh.vertices)):
        raise MeshFileError(f"{path} has faces that index missing vertices")
    return mesh


def write_glb(path: Path, mesh: MeshData) -> None:
    """A GLB with vertex colours (sRGB-encoded bytes, as glTF viewers expect), written atomically."""
    import trimesh

    linear = np.clip(mesh.colors[:, :3], 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    rgba = np.concatenate([srgb, np.clip(mesh.colors[:, 3:4], 0, 1)], axis=1)
    tm = trimesh.Trimesh(
        vertices=mesh.vertices @ _Z_UP_TO_Y_UP.T,
        faces=mesh.faces,
        vertex_colors=(rgba * 255 + 0.5).astype(np.uint8),
        process=False,
    )
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(tm.export(file_type="glb"))
    os.replace(partial, path)


def read_glb(path: Path) -> MeshData:
    """Read a GLB written by ``write_glb`` (or any single-mesh GLB) back to Blender axes."""
    import trimesh

    scene = trimesh.load(Path(path), file_type="glb", force="mesh", process=False)
    colors = getattr(scene.visual, "vertex_colors", None)
    if colors is None or len(colors) != len(scene.vertices):
        colors = np.full((len(scene.vertices), 4), 255, np.uint8)
    srgb = np.asarray(colors, dtype=np.float32)[:, :3] / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, np.power((srgb + 0.055) / 1.055, 2.4))
    alpha = np.asarray(colors, dtype=np.float32)[:, 3:4] / 255.0
    return MeshData(
        vertices=np.asarray(scene.vertices, dtype=np.float32) @ _Z_UP_TO_Y_UP,
        faces=np.asarray(scene.faces),
        colors=np.concatenate([linear, alpha], axis=1),
    )
