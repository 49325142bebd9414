"""The 3D Viewport sidebar tab "DreamFusion": the main panel, then its sub-panels in display order."""

from __future__ import annotations

import bpy

from . import advanced, history, main, queue

_MODULES = (main, advanced, queue, history)


def register() -> None:
    for module in _MODULES:
        for cls in module.CLASSES:
            bpy.utils.register_class(cls)


def unregister() -> None:
    for module in reversed(_MODULES):
        for cls in reversed(module.CLASSES):
            bpy.utils.unregister_class(cls)
