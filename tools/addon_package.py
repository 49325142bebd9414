"""The repository imported as the add-on's package outside Blender, its ``engine`` shared with the top-level one.

Why this exists: inside Blender the add-on's modules import the engine relatively (``from ..engine import
protocol``), so the engine's files load as ``<package>.engine.*``; the engine's own tests, its command line and the
benchmarks import the same files as ``engine.*``. Tests and benchmarks that use both in one process (the bridge
tests, ``bench/import_bench.py``) would otherwise load each engine file twice, as two modules: two ``EngineError``
classes, two protocols, two registries, and an ``except EngineError`` that misses the other copy's errors.
``source_package`` makes the repository the package ``dreamfusion`` (without its bpy registration) and resolves
``dreamfusion.engine.*`` to the ``engine.*`` modules (``EngineAlias``), so every engine file is one module under one
name, ``engine.*``. Not part of the extension: Blender imports the installed add-on with no alias.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


class EngineAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``<package>.engine`` and its submodules to the top-level ``engine`` modules (one copy of each)."""

    def __init__(self, package: str) -> None:
        self.prefix = f"{package}.engine"

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.prefix and not fullname.startswith(self.prefix + "."):
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module("engine" + spec.name.removeprefix(self.prefix))

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the top-level module has run already."""


def source_package(name: str = "dreamfusion") -> ModuleType:
    """The repository root imported as package ``name`` (as Blender imports the installed extension),
    without running its ``__init__`` (no bpy registration): for tests and benchmarks of modules that
    use relative imports (``from ..engine import protocol``).

    ``name.engine`` is the top-level ``engine`` package itself, not a second copy of its files, so one
    process has one ``EngineError`` and one set of protocol constants, whichever name imported them.
    """
    if name not in sys.modules:
        package = ModuleType(name)
        package.__path__ = [str(ROOT)]
        package.__package__ = name
        sys.modules[name] = package
        sys.meta_path.insert(0, EngineAlias(name))
    return sys.modules[name]
