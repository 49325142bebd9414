"""Operators under ``bpy.ops.dreamfusion``: generate, cancel, import, re-extract, the history's, the queue's,
batch import, engine set-up."""

from __future__ import annotations

import bpy

from . import cancel, engine_setup, generate, history, import_asset, import_batch, queue, remesh

_MODULES = (generate, cancel, import_asset, remesh, history, queue, import_batch, engine_setup)


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
