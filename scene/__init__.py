"""Code that builds Blender data: the imported mesh and its material, the live preview image, thumbnails."""

from __future__ import annotations

from . import thumbnails


def register() -> None:
    thumbnails.register()


def unregister() -> None:
    thumbnails.unregister()
