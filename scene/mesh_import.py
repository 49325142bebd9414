"""The engine's ``mesh.npz`` as a Blender object: arrays straight into the mesh with ``foreach_set``.

``read_npz`` (numpy only, no pickle) validates the file before any Blender data is created, so a
bad file leaves the scene as it was.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from ..engine.mesh.file_format import MeshData, MeshFileError, read_npz
from ..engine.run_files import is_regular_file
from .material import COLOR_ATTRIBUTE, mean_albedo, new_albedo_material

# Metres per engine unit, kept on the object: a re-extracted mesh comes in at the same size, its scale still 1.
ENGINE_UNIT_KEY = "dreamfusion_metres_per_unit"


def build_mesh(name: str, data: MeshData, material: bpy.types.Material) -> bpy.types.Mesh:
    """A mesh datablock with smooth shading, the linear ``albedo`` colors, UVs when present."""
    mesh = bpy.data.meshes.new(name)
    try:
        _fill_mesh(mesh, data, material)
    except BaseException:
        bpy.data.meshes.remove(mesh)  # no orphan datablock from a mesh that could not be built
        raise
    return mesh


def _fill_mesh(mesh: bpy.types.Mesh, data: MeshData, material: bpy.types.Material) -> None:
    vertex_count, face_count = len(data.vertices), len(data.faces)
    mesh.vertices.add(vertex_count)
    mesh.loops.add(3 * face_count)
    mesh.polygons.add(face_count)
    mesh.vertices.foreach_set("co", data.vertices.ravel())
    mesh.loops.foreach_set("vertex_index", data.faces.ravel())
    mesh.polygons.foreach_set("loop_start", np.arange(0, 3 * face_count, 3, dtype=np.int32))
    colors = mesh.color_attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
    colors.data.foreach_set("color", data.colors.ravel())  # "color" is scene-linear, as the file is
    mesh.color_attributes.active_color = colors
    mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index
    if data.uvs is not None:
        mesh.uv_layers.new(name="UVMap").uv.foreach_set("vector", data.uvs.ravel())
    mesh.update()
    mesh.shade_smooth()
    mesh.materials.append(material)


def read_mesh_file(path: Path) -> tuple[MeshData, Path | None]:
    """The validated arrays and the texture path (beside the file), refusing an empty mesh."""
    data = read_npz(path)
    if len(data.faces) == 0:
        raise MeshFileError(f"{path} holds an empty mesh; try a lower threshold")
    texture = Path(path).parent / data.texture if data.texture else None
    if texture is not None and not is_regular_file(texture):
        raise MeshFileError(f"{path} names the texture {data.texture}, which is missing beside it or not a file")
    return data, texture


def mesh_object(path: Path, name: str, size: float, base: Vector) -> bpy.types.Object:
    """A new object from ``path``, in no collection yet: largest side ``size`` metres with its scale applied (1),
    resting on ``base``."""
    data, texture = read_mesh_file(path)
    extent = float((data.vertices.max(axis=0) - data.vertices.min(axis=0)).max())
    scale = size / extent if extent > 0 else 1.0
    data.vertices = data.vertices * np.float32(scale)
    material = new_albedo_material(name, texture, mean_albedo(data))
    try:
        mesh = build_mesh(name, data, material)
    except BaseException:
        bpy.data.materials.remove(material)  # nothing left behind: the scene is as it was
        raise
    obj = bpy.data.objects.new(name, mesh)
    obj[ENGINE_UNIT_KEY] = scale
    obj.location = base + Vector((0.0, 0.0, -float(data.vertices[:, 2].min())))
    return obj


def import_mesh_file(context: bpy.types.Context, path: Path, name: str, size: float) -> bpy.types.Object:
    """A new object from ``path``: largest side ``size`` metres, resting on the 3D cursor, selected and active."""
    obj = mesh_object(path, name, size, context.scene.cursor.location)
    (context.collection or context.scene.collection).objects.link(obj)
    for other in context.selected_objects:
        other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj
    return obj


def replace_mesh(obj: bpy.types.Object, path: Path) -> None:
    """Swap ``obj``'s mesh for the one in ``path`` at the size of the first, keeping its transform and, for vertex
    colors, its material."""
    data, texture = read_mesh_file(path)
    data.vertices = data.vertices * np.float32(obj.get(ENGINE_UNIT_KEY, 1.0))
    old = obj.data
    keep_material = texture is None and len(old.materials) > 0 and old.materials[0] is not None
    material = old.materials[0] if keep_material else new_albedo_material(obj.name, texture, mean_albedo(data))
    name = old.name
    obj.data = build_mesh(name, data, material)
    if old.users == 0:
        bpy.data.meshes.remove(old)
        obj.data.name = name
