"""Icons of the history's preview PNGs, loaded into a preview collection (no image datablocks in the file)."""

from __future__ import annotations

import bpy
import bpy.utils.previews

from ..engine.run_files import is_regular_file

_collection: bpy.utils.previews.ImagePreviewCollection | None = None


def icon_id(path: str) -> int:
    """The icon for the PNG at ``path`` (loaded once, lazily), or 0 when there is none."""
    if _collection is None or not path or not is_regular_file(path):  # a FIFO would block Blender
        return 0
    if path not in _collection:
        try:
            _collection.load(path, path, "IMAGE")
        except (KeyError, RuntimeError):
            return 0
    return _collection[path].icon_id


def register() -> None:
    global _collection
    _collection = bpy.utils.previews.new()


def unregister() -> None:
    global _collection
    if _collection is not None:
        bpy.utils.previews.remove(_collection)
        _collection = None
