"""``python -m engine remesh RUN_DIR [--threshold X] [--bake vertex|uv] [--formats ...]``: re-extract a
finished run's mesh from its stored density grid, without the optimizer (the add-on's threshold slider)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import protocol
from ..mesh.outputs import FORMATS
from ..mesh.pipeline import BAKES, load_mesh_config, remesh_run

HELP = "re-extract a run's mesh at another threshold from its stored density grid"

_STAGE_MESSAGES = {
    "mesh": "extracting the surface",
    "bake": "baking albedo",
    "export": "writing mesh files",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run folder with density_grid.npz")
    parser.add_argument("--threshold", type=float, default=None, help="density level (default: automatic)")
    parser.add_argument("--bake", choices=BAKES, default=None, help="albedo as vertex colors or a UV texture")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=None, help="files to write besides mesh.npz")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    config = load_mesh_config(args.run_dir)
    if args.bake is not None:
        config.bake = args.bake
    if args.formats is not None:
        config.formats = tuple(args.formats)
    announced: set[str] = set()

    def progress(stage: str, fraction: float) -> None:
        if stage not in announced:
            announced.add(stage)
            protocol.emit(protocol.STAGE, name=stage, message=_STAGE_MESSAGES[stage])

    result = remesh_run(args.run_dir, args.threshold, config, progress)
    protocol.emit(
        protocol.DONE,
        run_dir=str(args.run_dir.resolve()),
        mesh=str(result.mesh_npz.resolve()),
        glb=str(result.glb.resolve()) if result.glb else None,
        elapsed_s=round(time.monotonic() - started, 3),
        threshold=result.threshold,
        vertices=result.vertices,
        faces=result.faces,
        obj=str(result.obj.resolve()) if result.obj else None,
        texture=str(result.texture.resolve()) if result.texture else None,
    )
    return 0
