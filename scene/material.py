"""A Principled BSDF material that shows the engine's albedo: per-vertex colors, or a baked texture on UVs."""

from __future__ import annotations

from pathlib import Path

import bpy

COLOR_ATTRIBUTE = "albedo"  # the mesh's color attribute that the material reads


def new_albedo_material(name: str, texture: Path | None = None) -> bpy.types.Material:
    """Base Color from the ``albedo`` color attribute, or from ``texture`` (an sRGB PNG) when given."""
    material = bpy.data.materials.new(name)
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
