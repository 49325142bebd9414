"""``python -m engine remesh RUN_DIR [--threshold X] [--bake vertex|uv] [--formats ...]``: re-extract a
finished run's mesh from its stored density grid, without the optimizer (the add-on's threshold slider), refined
as the run's own mesh was when its config.json says so.

It holds the run folder's lock while it works, so it never writes a run that a ``generate`` is writing;
its settings are checked as the run's own are (``engine/config.py``)."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from .. import checkpoint, protocol
from ..config import BAKES, MESH_FORMATS, override
from ..config_assembly import default_cache_dir
from ..device import use_cpu_threads
from ..errors import EngineError
from ..generation import prepare_prior
from ..mesh.density_grid import GRID_FILE
from ..mesh.pipeline import load_mesh_config, remesh_run
from ..refinement.refine import MeshRefiner
from ..run_files import check_folder
from ..run_folder import check_runnable, load_run_config
from ..run_lock import RunLock
from ..stage_progress import StageProgress
from ..stop_signal import StopSignal

HELP = "re-extract a run's mesh at another threshold from its stored density grid"

_STAGE_MESSAGES = {
    "prior": "preparing the prior for refinement",
    "mesh": "extracting the surface",
    "refine": "refining the mesh",
    "bake": "baking albedo",
    "export": "writing mesh files",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run folder with density_grid.npz")
    parser.add_argument("--threshold", type=float, default=None, help="density level (default: automatic)")
    parser.add_argument("--bake", choices=BAKES, default=None, help="albedo as vertex colors or a UV texture")
    parser.add_argument(
        "--formats", nargs="+", choices=MESH_FORMATS, default=None, help="files to write besides mesh.npz"
    )


def run_folder(args: argparse.Namespace) -> Path:
    """The run folder this command works on (where engine/cli.py keeps an internal error's log)."""
    return args.run_dir.expanduser().resolve()


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if not args.run_dir.is_dir():
        raise EngineError(f"there is no run folder at {args.run_dir}; pass the folder of a finished run", "mesh")
    if not any(os.path.lexists(args.run_dir / name) for name in (GRID_FILE, "config.json")):
        raise EngineError(  # refused before its lock is made: nothing is written in a folder of the user's
            f"{args.run_dir} holds no run (no {GRID_FILE}, no config.json); pass the folder of a finished run", "mesh"
        )
    check_folder(run_folder(args))  # a link or a FIFO in the folder is refused before anything opens it
    with RunLock(run_folder(args)):
        return _remesh(args, started)


def run_refiner(run_dir: Path, progress: Callable[[float], None]) -> MeshRefiner:
    """The run's own mesh refinement, as its ``generate`` refined: its prior and settings from its config.json,
    so a re-extracted mesh is as smooth as the first one."""
    run_config = load_run_config(run_dir)
    device, prior_class = check_runnable(run_config)
    use_cpu_threads(device, run_config.cpu_threads)
    prior = prepare_prior(run_config, prior_class, device, default_cache_dir(), progress)
    return MeshRefiner(run_config, prior, device)


def _remesh(args: argparse.Namespace, started: float) -> int:
    config = load_mesh_config(args.run_dir)
    flags = {"threshold": args.threshold, "bake": args.bake, "formats": args.formats}
    override(config, {name: value for name, value in flags.items() if value is not None})
    if not (args.run_dir / GRID_FILE).is_file() and checkpoint.exists(args.run_dir / "checkpoint"):
        raise EngineError(
            f"{args.run_dir} has no density grid yet: the run stopped before its mesh; finish it with "
            f"generate --resume {args.run_dir}",
            "mesh",
        )
    # Stage events with their fraction, as generate's (the refinement takes a minute); a stop ends it as a kill does:
    # the mesh files are replaced together at the end, or not at all.
    progress = StageProgress(protocol.emit, StopSignal(), _STAGE_MESSAGES)
    refine = run_refiner(args.run_dir, progress.of("prior")) if config.refine.steps else None
    result = remesh_run(args.run_dir, config.threshold, config, progress, refine)
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
