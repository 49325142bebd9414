"""The mesh files for other tools: GLB (vertex colors or an embedded texture), OBJ + MTL, and the albedo PNG.

Engine only (trimesh and pillow); the add-on's own file is ``mesh.npz`` (``file_format.py``). Meshes arrive
on Blender axes (Z up, front -Y) and are converted to glTF's and OBJ's Y-up on write (Blender's importers
convert back).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from ..atomic_write import replacing, write_bytes
from .file_format import MeshData, linear_to_srgb, srgb_to_linear

# Blender (x, y, z) -> glTF (x, z, -y), and back.
_Z_UP_TO_Y_UP = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float32)


def write_glb(path: Path, mesh: MeshData, texture_image: np.ndarray | None = None) -> None:
    """A GLB written atomically, with vertex colors (sRGB-encoded bytes, as glTF viewers expect),
    or, given ``texture_image`` ((H, W, 3) uint8 sRGB) and per-loop UVs, with that texture embedded."""
    vertices = mesh.vertices @ _Z_UP_TO_Y_UP.T
    if texture_image is not None and mesh.uvs is not None:
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
