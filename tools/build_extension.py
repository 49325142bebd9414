"""Validate and build the extension zip with the ``blender_ext.py`` that ships inside the bpy wheel.

    python -m tools.build_extension                      # dist/dreamfusion-<version>.zip
    python -m tools.build_extension --output-dir FOLDER  # the zip in FOLDER instead

The extension is pure Python and bundles no wheels, so one zip serves every platform and the build
needs no network; what goes into it is decided by the manifest's ``[build] paths_exclude_pattern``.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from engine.atomic_write import replacing

ROOT = Path(__file__).resolve().parents[1]


class BuildError(RuntimeError):
    """The extension could not be validated or built; the message says why."""


def blender_ext_path() -> Path:
    """``bpy/<ver>/scripts/addons_core/bl_pkg/cli/blender_ext.py`` of the installed bpy (without importing bpy)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("the bpy module is not installed; run ./dreamfusion setup")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    raise BuildError("blender_ext.py was not found inside the installed bpy package")


def _run_blender_ext(*arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, str(blender_ext_path()), *arguments], capture_output=True, text=True, check=False
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise BuildError(f"blender_ext {arguments[0]} failed:\n{output}")
    return output


def build(output_dir: Path, source: Path = ROOT) -> Path:
    """Validate ``source``, then build its zip into ``output_dir``; returns the zip's path.

    The build writes into a fresh folder and the zip replaces one of the same name atomically, so a
    failed build never leaves a half-written zip where the last good one was.
    """
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    _run_blender_ext("validate", str(source))
    with tempfile.TemporaryDirectory(prefix="dreamfusion-build-") as fresh:
        _run_blender_ext("build", "--source-dir", str(source), "--output-dir", fresh)
        built = sorted(Path(fresh).glob("*.zip"))
        if len(built) != 1:
            raise BuildError(f"blender_ext should write one zip for {source}, it wrote {len(built)}")
        target = output_dir / built[0].name
        with replacing(target) as partial:
            shutil.move(built[0], partial)
    return target


class _SharedEngine(importlib.abc.MetaPathFinder, importlib.abc.Loader):
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
        sys.meta_path.insert(0, _SharedEngine(name))
    return sys.modules[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build_extension", description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    try:
        path = build(args.output_dir)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"built {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
