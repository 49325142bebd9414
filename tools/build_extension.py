"""Validate and build the extension zip with the ``blender_ext.py`` that ships inside the bpy wheel.

    python -m tools.build_extension                      # dist/dreamfusion-<version>.zip
    python -m tools.build_extension --output-dir FOLDER  # the zip in FOLDER instead

The extension is pure Python and bundles no wheels, so one zip serves every platform and the build
needs no network; what goes into it is decided by the manifest's ``[build] paths_exclude_pattern``.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
