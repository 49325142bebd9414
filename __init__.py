"""DreamFusion for Blender: text to 3D with Score Distillation Sampling, run by an engine process.

Thin on purpose: each module registers its own classes, in the order below, and unregisters in
reverse, so the run manager (its timer and any engine process) goes first. The modules are imported
in ``register`` rather than here, so importing the package has no side effects (pytest imports the
repository root as a package when it collects tests/, before the add-on tests have set up Blender).
"""

from __future__ import annotations

from types import ModuleType


def _modules() -> tuple[ModuleType, ...]:
    from . import operators, panels, preferences, properties, scene
    from .operators import run_manager

    return (preferences, properties, scene, operators, panels, run_manager)


def register() -> None:
    for module in _modules():
        module.register()


def unregister() -> None:
    for module in reversed(_modules()):
        module.unregister()
