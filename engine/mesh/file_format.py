"""Mesh files: the Blender-ready ``mesh.npz``, the GLB for other tools, OBJ+MTL and the albedo PNG.

numpy only at import time (the add-on reads ``mesh.npz`` inside Blender); trimesh and pillow are
imported by the functions that need them. Arrays are in metres on Blender axes (Z up, front -Y);
the GLB and OBJ are converted to their Y-up convention on write (Blender's importers convert back).
UVs follow Blender and OpenGL: origin at the bottom left, so PNG row 0 is v = 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic_write import replacing, write_bytes

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


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer function, for color stored as display values (PNG, glTF bytes, OBJ)."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Inverse of ``linear_to_srgb``."""
    srgb = np.clip(srgb, 0.0, 1.0)
    return np.where(srgb <= 0.04045, srgb / 12.92, np.power((srgb + 0.055) / 1.055, 2.4))


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
    with replacing(path) as partial, open(partial, "wb") as handle:
        np.savez(handle, **arrays)


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
                uvs=data.get("uvs"),
                texture=str(data["texture"]) if "texture" in data else None,
            )
    except (OSError, KeyError, ValueError) as exc:
        if isinstance(exc, MeshFileError):
            raise
        raise MeshFileError(f"{path} is not a readable mesh file ({exc})") from exc
    if mesh.faces.size and (mesh.faces.min() < 0 or mesh.faces.max() >= len(mesh.vertices)):
        raise MeshFileError(f"{path} has faces that index missing vertices")
    return mesh


def write_glb(path: Path, mesh: MeshData, texture_image: np.ndarray | None = None) -> None:
    """A GLB written atomically, with vertex colors (sRGB-encoded bytes, as glTF viewers expect),
    or, given ``texture_image`` ((H, W, 3) uint8 sRGB) and per-loop UVs, with that texture embedded."""
    import trimesh

    vertices = mesh.vertices @ _Z_UP_TO_Y_UP.T
    if texture_image is not None and mesh.uvs is not None:
        from PIL import Image

        # glTF UVs are per vertex: split vertices where a seam gives one position two UVs.
        loops = np.concatenate([mesh.faces.reshape(-1, 1).astype(np.float64), mesh.uvs.astype(np.float64)], axis=1)
        unique_loops, loop_vertex = np.unique(loops, axis=0, return_inverse=True)
        tm = trimesh.Trimesh(
            vertices=vertices[unique_loops[:, 0].astype(np.int64)],
            faces=loop_vertex.reshape(-1, 3),
            visual=trimesh.visual.TextureVisuals(
                uv=unique_loops[:, 1:], image=Image.fromarray(np.ascontiguousarray(texture_image))
            ),
            process=False,
        )
    else:
        rgba = np.concatenate([linear_to_srgb(mesh.colors[:, :3]), np.clip(mesh.colors[:, 3:4], 0, 1)], axis=1)
        tm = trimesh.Trimesh(
            vertices=vertices, faces=mesh.faces, vertex_colors=(rgba * 255 + 0.5).astype(np.uint8), process=False
        )
    write_bytes(path, tm.export(file_type="glb"))


def read_glb(path: Path) -> MeshData:
    """Read a GLB written by ``write_glb`` (or any single-mesh GLB) back to Blender axes."""
    import trimesh

    scene = trimesh.load(Path(path), file_type="glb", force="mesh", process=False)
    uv = getattr(scene.visual, "uv", None)
    colors = None if uv is not None else getattr(scene.visual, "vertex_colors", None)
    if colors is None or len(colors) != len(scene.vertices):
        colors = np.full((len(scene.vertices), 4), 255, np.uint8)
    linear = srgb_to_linear(np.asarray(colors, dtype=np.float32)[:, :3] / 255.0)
    alpha = np.asarray(colors, dtype=np.float32)[:, 3:4] / 255.0
    faces = np.asarray(scene.faces)
    return MeshData(
        vertices=np.asarray(scene.vertices, dtype=np.float32) @ _Z_UP_TO_Y_UP,
        faces=faces,
        colors=np.concatenate([linear, alpha], axis=1),
        uvs=None if uv is None else np.asarray(uv)[faces].reshape(-1, 2),
    )


def write_texture(path: Path, image: np.ndarray) -> None:
    """An (H, W, 3) uint8 sRGB image as PNG, written atomically."""
    from PIL import Image

    with replacing(path) as partial:
        Image.fromarray(np.ascontiguousarray(image)).save(partial, format="PNG")


def write_obj(path: Path, mesh: MeshData) -> None:
    """OBJ (Y up, as Blender's OBJ importer expects by default) plus an MTL of the same name, atomically.

    With UVs and a texture name the MTL maps the texture (the PNG is written separately, beside it);
    otherwise each ``v`` line carries its sRGB color (the widely read ``v x y z r g b`` extension).
    """
    path = Path(path)
    mtl_path = path.with_suffix(".mtl")
    textured = mesh.uvs is not None and mesh.texture is not None
    vertices = mesh.vertices @ _Z_UP_TO_Y_UP.T
    corners = mesh.faces.astype(np.int64) + 1
    texture_line = f"map_Kd {mesh.texture}\n" if textured else ""
    with replacing(path) as obj_partial, replacing(mtl_path) as mtl_partial:
        mtl_partial.write_text(f"newmtl albedo\nKa 0 0 0\nKd 1 1 1\nKs 0 0 0\nillum 1\n{texture_line}")
        with open(obj_partial, "w") as handle:
            handle.write(f"mtllib {mtl_path.name}\no mesh\n")
            if textured:
                np.savetxt(handle, vertices, fmt="v %.6f %.6f %.6f")
                np.savetxt(handle, mesh.uvs, fmt="vt %.6f %.6f")
                loops = np.arange(1, len(corners) * 3 + 1).reshape(-1, 3)
                handle.write("usemtl albedo\n")
                np.savetxt(handle, np.stack([corners, loops], axis=2).reshape(-1, 6), fmt="f %d/%d %d/%d %d/%d")
            else:
                np.savetxt(
                    handle,
                    np.concatenate([vertices, linear_to_srgb(mesh.colors[:, :3])], axis=1),
                    fmt="v %.6f %.6f %.6f %.4f %.4f %.4f",
                )
                handle.write("usemtl albedo\n")
                np.savetxt(handle, corners, fmt="f %d %d %d")
