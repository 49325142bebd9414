"""DreamFusion for Blender: text to 3D with Score Distillation Sampling, run by an engine process.

Thin on purpose: each module registers its own classes, in the order below, and unregisters in
reverse, so the runtime (its timers and any engine process) goes first.
"""

from __future__ import annotations

from . import operators, panels, preferences, properties, runtime, scene

_MODULES = (preferences, properties, scene, operators, panels, runtime)


def register() -> None:
    for module in _MODULES:
        module.register()


def unregister() -> None:
    for module in reversed(_MODULES):
        module.unregister()
