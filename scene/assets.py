"""Results as assets: objects in the scene's "DreamFusion" collection, marked as assets, the run's preview
PNG as each one's thumbnail, so the Asset Browser (Current File) lists them.

Blender renders asset previews itself only where it can draw (not in background mode), so the thumbnail's
pixels are set from the PNG directly; they are saved with the .blend. Results are laid out on a grid
beside the 3D cursor, in the order they arrive, instead of piling up on one spot.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import bpy
from mathutils import Vector

from .mesh_import import mesh_object
from .preview_image import png_pixels

COLLECTION_NAME = "DreamFusion"
ASSET_TAG = "DreamFusion"
GRID_COLUMNS = 5
GRID_SPACING = 1.5  # times the objects' size, between grid places


def results_collection(scene: bpy.types.Scene) -> bpy.types.Collection:
    """The scene's "DreamFusion" collection, created (or linked into this scene) on first use."""
    collection = bpy.data.collections.get(COLLECTION_NAME)
    if collection is None:
        collection = bpy.data.collections.new(COLLECTION_NAME)
    if collection not in scene.collection.children_recursive:
        scene.collection.children.link(collection)
    return collection


def add_asset(
    scene: bpy.types.Scene,
    mesh_path: Path,
    name: str,
    size: float,
    thumbnail: Path | None,
    description: str,
    tags: Iterable[str] = (),
) -> bpy.types.Object:
    """A new object from ``mesh_path`` in the results collection, marked as an asset with ``thumbnail``.

    The thumbnail and the mesh are read before any data is made, so a file that cannot be read (an
    exception: MeshFileError, RuntimeError) leaves the scene as it was.
    """
    picture = png_pixels(thumbnail) if thumbnail is not None else None
    collection = results_collection(scene)
    row, column = divmod(len(collection.objects), GRID_COLUMNS)
    offset = Vector((column, -row, 0.0)) * (GRID_SPACING * size)
    obj = mesh_object(mesh_path, name, size, scene.cursor.location + offset)
    collection.objects.link(obj)
    obj.asset_mark()
    obj.asset_data.description = description
    for tag in dict.fromkeys((ASSET_TAG, *tags)):
        if tag and tag not in obj.asset_data.tags:
            obj.asset_data.tags.new(tag)
    if picture is not None:
        width, height, pixels = picture
        preview = obj.preview_ensure()
        preview.image_size = (width, height)
        preview.image_pixels_float.foreach_set(pixels)
    return obj
