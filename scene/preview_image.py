"""The live preview: one image datablock, reused for every preview PNG the engine writes.

The sidebar shows the PNG itself as an icon (scene/thumbnails.py); this datablock is the full-size
image to watch in an Image Editor, and it never points at a file that a later run might delete.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..engine.run_files import is_regular_file

PREVIEW_IMAGE_NAME = "DreamFusion Preview"


def png_pixels(path: Path) -> tuple[int, int, np.ndarray]:
    """Width, height and the flat RGBA float pixels (rows bottom-up, as Blender keeps them) of a PNG.

    The image datablock it is read through is removed again; RuntimeError when Blender cannot read it.
    """
    if not is_regular_file(path):  # a link out of the run folder, or a FIFO that would block Blender
        raise RuntimeError(f"{path} is not a regular file")
    loaded = bpy.data.images.load(str(path), check_existing=False)
    try:
        width, height = loaded.size
        pixels = np.empty(width * height * 4, dtype=np.float32)
        loaded.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(loaded)
    return width, height, pixels


def show_preview(path: Path) -> bpy.types.Image:
    """Copy the PNG's pixels into the reused image (created on first use), for the Image Editor."""
    width, height, pixels = png_pixels(path)
    image = bpy.data.images.get(PREVIEW_IMAGE_NAME)
    if image is None:
        image = bpy.data.images.new(PREVIEW_IMAGE_NAME, width, height, alpha=True)
    elif tuple(image.size) != (width, height):
        image.scale(width, height)
    image.pixels.foreach_set(pixels)
    image.update()
    return image
