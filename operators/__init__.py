"""Operators under ``bpy.ops.dreamfusion``: generate, cancel, import, re-extract, the history's, engine set-up."""

from __future__ import annotations

import bpy

from . import cancel, engine_setup, generate, history, import_asset, remesh

_MODULES = (generate, cancel, import_asset, remesh, history, engine_setup)


def register() -> None:
    for module in _MODULES:
        for cls in module.CLASSES:
            bpy.utils.register_class(cls)
        if hasattr(module, "register"):
            module.register()


def unregister() -> None:
    for module in reversed(_MODULES):
        if hasattr(module, "unregister"):
            module.unregister()
        for cls in reversed(module.CLASSES):
            bpy.utils.unregister_class(cls)
