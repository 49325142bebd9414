"""A Principled BSDF material that shows the engine's albedo: per-vertex colors, or a baked texture on UVs; its
viewport display color is the albedo's mean, so Solid mode (Blender's default viewport) shows the object's color."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..engine.mesh.file_format import MeshData

COLOR_ATTRIBUTE = "albedo"  # the mesh's color attribute that the material reads


def mean_albedo(data: MeshData) -> tuple[float, float, float, float]:
    """The surface's mean color (scene-linear RGBA): each triangle's mean vertex color, weighted by its area.
    The baked texture holds the same albedo as the vertex colors, so they speak for both."""
    corners = data.vertices[data.faces]
    areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    face_colors = data.colors[data.faces].mean(axis=1)
    total = float(areas.sum())
    mean = (areas @ face_colors) / total if total > 0 else data.colors.mean(axis=0)
    return (float(mean[0]), float(mean[1]), float(mean[2]), 1.0)


def new_albedo_material(
    name: str, texture: Path | None = None, display_color: tuple[float, float, float, float] | None = None
) -> bpy.types.Material:
    """Base Color from the ``albedo`` color attribute, or from ``texture`` (an sRGB PNG) when given; the viewport
    display color ``display_color`` (scene-linear RGBA) when given."""
    material = bpy.data.materials.new(name)
    if display_color is not None:
        material.diffuse_color = display_color
    if material.node_tree is None:  # Blender < 5.0 creates materials without nodes
        material.use_nodes = True
    nodes = material.node_tree.nodes
    links = material.node_tree.links
    bsdf = next(node for node in nodes if node.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Roughness"].default_value = 0.6
    if texture is not None:
        source = nodes.new("ShaderNodeTexImage")
        source.image = bpy.data.images.load(str(texture), check_existing=True)
        source.image.colorspace_settings.name = "sRGB"
    else:
        source = nodes.new("ShaderNodeVertexColor")
        source.layer_name = COLOR_ATTRIBUTE
    source.location = (bsdf.location.x - 300, bsdf.location.y)
    links.new(source.outputs["Color"], bsdf.inputs["Base Color"])
    return material
