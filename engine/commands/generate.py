"""``generate``: prompt -> optimized field -> mesh with baked albedo, reported as protocol events.

Everything a run can know is checked before anything is written: every setting (``engine/config.py``), the
device, the field and the prior (its vocabulary, or its model files). The run folder's lock
(``engine/run_lock.py``) is taken before the first write and held to the end, so one process works on a
folder. A stop (``stop`` on stdin, SIGINT/SIGTERM, a closed stdin or stdout) is honoured between the units of
the prior's preparation (engine/stage_progress.py), between steps, between turntable frames and between the
chunks and stages of meshing; the trained field is checkpointed
before the turntable, so a run stopped or killed after optimization is finished by ``--resume`` (which
then only exports), or by ``remesh`` once its density grid is written.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint, protocol
from ..atomic_write import write_text
from ..batch.prompt_run import STDERR_FILE
from ..cli import ERROR_LOG
from ..config import DEVICES, PRESETS, RunConfig, check, from_dict, override, to_dict
from ..config_migration import migrated
from ..config_schema import ConfigError, parse_set
from ..device import choose_device, is_out_of_memory, out_of_memory_error
from ..errors import EngineError
from ..guidance.base import DiffusionPrior
from ..mesh.pipeline import export_run
from ..prompts import run_suffixes
from ..protocol import MAX_PROMPT_CHARS
from ..recipes import recipe_for, starting_settings
from ..registry import FIELDS, PRIORS, resolve
from ..run_files import SpecialFileError, check_folder, read_text
from ..run_lock import LOCK_FILE, RunLock
from ..stage_progress import Progress, StageProgress, Stopped
from ..stop_signal import StopSignal
from ..trainer import Trainer

HELP = "Generate a 3D asset from a text prompt (Score Distillation Sampling)."
SKIP_TEARDOWN = True  # a stopped run exits at once after its `cancelled` event (engine/cli.py)
CONFIG_FILE = "config.json"
LOG_FILE = "log.jsonl"
# What a client puts in a run folder before the engine starts (a batch's lock and stderr log, the add-on's
# worker.log, bridge/engine_run.py), and an earlier refusal's error log: a folder holding only these is empty.
CLIENT_FILES = frozenset({LOCK_FILE, STDERR_FILE, "worker.log", ERROR_LOG})
# What only a run that has checkpointed leaves: without a checkpoint beside them, --resume would start again.
CHECKPOINTED_FILES = ("density_grid.npz", "mesh.npz")
DEFAULT_PRESET = "balanced"
# Free text: the argument after these is always their value, even when it starts with "-" (engine/cli.py).
TEXT_OPTIONS = ("--prompt", "--negative-prompt")
# What --resume may change (written back to config.json), by flag; every other run flag is fixed by the run.
RESUME_FLAGS = {
    "steps": "optim.steps",
    "device": "device",
    "guidance_scale": "guidance.guidance_scale",
    "preview_every": "preview_every",
    "checkpoint_every": "checkpoint_every",
    "low_memory": "guidance.low_memory",  # the same result in less memory: the way on after running out
}
NEW_RUN_FLAGS = {
    "prompt": "--prompt",
    "negative_prompt": "--negative-prompt",
    "prior": "--prior",
    "model": "--model",
    "preset": "--preset",
    "seed": "--seed",
    "out": "--out",
    "set": "--set",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", help="what to make, e.g. 'a red cube'")
    parser.add_argument("--negative-prompt", default=None, help="what to avoid (learned priors)")
    parser.add_argument("--prior", default=None, help=f"{' | '.join(PRIORS)} (default: {RunConfig().guidance.prior})")
    parser.add_argument("--model", default=None, help="model folder or hub id for learned priors")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None, help=f"quality preset ({DEFAULT_PRESET})")
    parser.add_argument("--steps", type=int, default=None, help="optimization steps (overrides the preset)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--guidance-scale", type=float, default=None, help="classifier-free guidance scale")
    parser.add_argument("--device", default=None, help=" | ".join(DEVICES))
    parser.add_argument(
        "--low-memory",
        action="store_true",
        default=None,
        help="learned priors in less GPU memory: text encoder freed before the UNet moves to the GPU, "
        "memory-efficient attention, VAE encoded one image at a time (guidance.low_memory)",
    )
    parser.add_argument("--out", type=Path, help="run folder to create")
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        help="continue the run in this folder (--steps, --device, --guidance-scale, --low-memory, --preview-every "
        "and --checkpoint-every may change; they are written back to its config.json)",
    )
    parser.add_argument("--preview-every", type=int, default=None)
    parser.add_argument("--checkpoint-every", type=int, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None, help="where priors cache their data")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any config field, e.g. --set render.samples_per_ray=48 (JSON values)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print every resolved setting as one config event and exit: nothing is loaded or written",
    )


def run_folder(args: argparse.Namespace) -> Path | None:
    """The run folder this command works on (where engine/cli.py keeps an internal error's log)."""
    folder = args.resume if args.resume is not None else args.out
    return None if folder is None else folder.expanduser().resolve()


def default_cache_dir() -> Path:
    base = os.environ.get("DREAMFUSION_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "dreamfusion"
    )
    return Path(base)


def _flags(args: argparse.Namespace, table: dict[str, str]) -> dict[str, Any]:
    """The dotted config fields of the flags in ``table`` that were given."""
    return {path: getattr(args, name) for name, path in table.items() if getattr(args, name) is not None}


def build_config(args: argparse.Namespace) -> RunConfig:
    """A checked RunConfig: the preset, then the chosen prior's recipe, then the flags, then ``--set``, each over the
    one before (engine/recipes.py); checks the prompt first."""
    prompt = (args.prompt or "").strip()
    if not prompt:
        raise EngineError("the prompt is empty: describe an object, for example --prompt 'a red cube'", "input")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise EngineError(f"the prompt is {len(prompt)} characters long; keep it under {MAX_PROMPT_CHARS}", "input")
    config = RunConfig(prompt=prompt)
    flags = {"guidance.prior": args.prior, "guidance.model": args.model, "seed": args.seed}
    flags["guidance.negative_prompt"] = args.negative_prompt
    user = {path: value for path, value in flags.items() if value is not None}
    user.update(_flags(args, RESUME_FLAGS))
    user.update(parse_set(args.set))
    prior = user.get("guidance.prior", config.guidance.prior)
    dotted = starting_settings(str(prior), args.preset or DEFAULT_PRESET)
    dotted.update(user)
    override(config, dotted)
    return config


def check_runnable(config: RunConfig) -> tuple[torch.device, type[DiffusionPrior]]:
    """The device and the prior class, once both can run ``config``: nothing is loaded or written."""
    check(config)
    device = choose_device(config.device)
    resolve(FIELDS, config.field.name, "field")
    prior_class: type[DiffusionPrior] = resolve(PRIORS, config.guidance.prior, "prior")
    prior_class.check_run_config(config)
    return device, prior_class


@dataclass
class RunFolder:
    """A run folder this process holds, with the checked config it runs and what it can run on."""

    path: Path
    config: RunConfig
    lock: RunLock
    device: torch.device
    prior_class: type[DiffusionPrior]
    resumed: bool
    saved_step: int | None  # the step its checkpoint holds (None: no checkpoint yet)

    @property
    def has_checkpoint(self) -> bool:
        return self.saved_step is not None


def write_config(run_dir: Path, config: RunConfig) -> None:
    write_text(run_dir / CONFIG_FILE, json.dumps(to_dict(config), indent=2))


def refuse_used_folder(path: Path) -> None:
    """Only a missing or empty folder becomes a new run: one that holds a run, or anything of the user's, is
    refused before anything is written in it."""
    if path.exists() and not path.is_dir():
        raise EngineError(f"{path} is a file, not a folder; choose a new --out folder", "output")
    if (path / CONFIG_FILE).exists():
        raise EngineError(
            f"{path} already holds a run; choose a new --out folder, or continue it with --resume {path}", "output"
        )
    held = sorted(entry.name for entry in path.iterdir() if entry.name not in CLIENT_FILES) if path.exists() else []
    if held:
        raise EngineError(
            f"{path} is not empty (it holds {', '.join(held[:3])}{' ...' if len(held) > 3 else ''}) and is not a "
            "run folder; choose a new or empty --out folder",
            "output",
        )


def claim_new_folder(path: Path | None) -> tuple[Path, RunLock, list[Path]]:
    """Create and lock a new run folder (missing or empty); also what this claim created (the folder, its lock)."""
    if path is None:
        raise EngineError("--out is required: the folder to write the run into", "input")
    path = path.expanduser().resolve()
    try:
        refuse_used_folder(path)
        created = [made for made in (path, path / LOCK_FILE) if not os.path.lexists(made)]
        path.mkdir(parents=True, exist_ok=True)
        check_folder(path)
        lock = RunLock(path).acquire()
    except SpecialFileError:
        raise
    except OSError as exc:
        raise EngineError(f"cannot write to {path} ({exc.strerror}); choose another --out folder", "output") from exc
    try:
        refuse_used_folder(path)  # again under the lock: another process may have claimed it meanwhile
    except EngineError:
        lock.release()
        raise
    return path, lock, created


def new_run(args: argparse.Namespace) -> RunFolder:
    config = build_config(args)
    device, prior_class = check_runnable(config)
    path, lock, created = claim_new_folder(args.out)
    try:
        write_config(path, config)
    except BaseException:  # a refused run (a full disk) leaves no folder or lock behind
        lock.release()
        for made in reversed(created):
            with suppress(OSError):
                made.rmdir() if made.is_dir() else made.unlink()
        raise
    return RunFolder(path, config, lock, device, prior_class, resumed=False, saved_step=None)


def load_run_config(run_dir: Path) -> RunConfig:
    """The run's config.json, checked as strictly as a new run's settings."""
    path = run_dir / CONFIG_FILE
    try:
        config = from_dict(RunConfig, migrated(json.loads(read_text(path))))
        check(config)
    except (OSError, ValueError, ConfigError) as exc:
        raise EngineError(
            f"{path} cannot be resumed ({exc}); fix that file, or start a new run with --out", "checkpoint"
        ) from exc
    return config


def resumed_folder(args: argparse.Namespace) -> Path:
    """The run folder ``--resume`` names, refused when it holds no run or when flags only a new run takes are given."""
    fixed = [flag for name, flag in NEW_RUN_FLAGS.items() if getattr(args, name) not in (None, [])]
    if fixed:
        changeable = ", ".join("--" + name.replace("_", "-") for name in RESUME_FLAGS)
        raise EngineError(
            f"--resume continues a run as its config.json says, so {', '.join(fixed)} cannot be given with it "
            f"(only {changeable}); start a new run with --out to change the others",
            "input",
        )
    path = args.resume.expanduser().resolve()
    if not (path / CONFIG_FILE).is_file():
        raise EngineError(f"{path} holds no run to resume (no {CONFIG_FILE}); start a new run with --out", "checkpoint")
    return path


def resume_run(args: argparse.Namespace) -> RunFolder:
    """Lock an existing run folder and check its config, with the flags --resume may change applied."""
    path = resumed_folder(args)
    check_folder(path)
    lock = RunLock(path).acquire()
    try:
        refuse_lost_checkpoint(path)
        config = load_run_config(path)
        changes = _flags(args, RESUME_FLAGS)
        override(config, changes)
        saved_step = None
        if checkpoint.exists(path / "checkpoint"):
            saved_step = checkpoint.read_meta(path / "checkpoint")["step"]
            if args.steps is not None and saved_step > args.steps:
                raise EngineError(
                    f"--steps {args.steps} is fewer than the {saved_step} steps this run has done; "
                    f"give {saved_step} or more",
                    "input",
                )
            checkpoint.read_meta(path / "checkpoint", config.optim.steps)  # a step past the end is corruption
        device, prior_class = check_runnable(config)
        if changes:
            write_config(path, config)  # the folder says what ran
    except BaseException:
        lock.release()
        raise
    return RunFolder(path, config, lock, device, prior_class, resumed=True, saved_step=saved_step)


def refuse_lost_checkpoint(run_dir: Path) -> None:
    """A run that has checkpointed continues only from its checkpoint: one that is gone or incomplete is named,
    never taken for a run that has not started (which would start at step 1 and overwrite the mesh)."""
    folder = run_dir / "checkpoint"
    if checkpoint.exists(folder):
        return
    if folder.exists() or checkpoint.located(folder) != folder:
        raise checkpoint.corrupt(folder, f"{checkpoint.META_FILE} is missing")
    left = [name for name in CHECKPOINTED_FILES if (run_dir / name).exists()]
    if left or _logged_checkpoint(run_dir / LOG_FILE):
        evidence = f"{left[0]} is there" if left else f"{LOG_FILE} records one"
        raise checkpoint.corrupt(folder, f"the folder is missing, but {evidence}")


def _logged_checkpoint(log: Path) -> bool:
    """Whether the run's log records a checkpoint event (a checkpoint was written once)."""
    try:
        text = read_text(log)
    except FileNotFoundError:
        return False
    return f'"event": "{protocol.CHECKPOINT}"' in text


def prepare_prior(folder: RunFolder, cache_dir: Path, progress: Progress) -> DiffusionPrior:
    """The run's prior, loaded and conditioned on its prompts; each prior reports its own work to ``progress``
    (loading weights, or rendering and baking its data), which raises ``Stopped`` between units of it."""
    config = folder.config
    prior = folder.prior_class.from_run_config(config, folder.device, cache_dir, progress)
    prior.set_prompt(config.prompt, config.guidance.negative_prompt, run_suffixes(config.guidance), progress)
    prior.release_text_encoder()
    progress(1.0)
    return prior


def dry_run(args: argparse.Namespace) -> int:
    """One ``config`` event with every setting the run would use (a new run's, or ``--resume``'s with its changes),
    checked; no folder, lock, model or weights are touched."""
    if args.resume is None:
        config = build_config(args)
        recipe: str | None = recipe_for(config.guidance.prior).name
    else:
        config = load_run_config(resumed_folder(args))
        override(config, _flags(args, RESUME_FLAGS))
        recipe = None  # a resumed run keeps its config.json's settings
    check(config)
    protocol.emit(protocol.CONFIG, config=to_dict(config), recipe=recipe)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.dry_run:
        return dry_run(args)
    stop = StopSignal().install()
    folder = resume_run(args) if args.resume is not None else new_run(args)
    try:
        return _generate(folder, args.cache_dir or default_cache_dir(), stop)
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        low_memory_helps = folder.prior_class.has_low_memory_mode and not folder.config.guidance.low_memory
        raise out_of_memory_error(folder.device, folder.path, low_memory_helps) from exc
    finally:
        folder.lock.release()


def _generate(folder: RunFolder, cache_dir: Path, stop: StopSignal) -> int:
    run_dir, config = folder.path, folder.config
    emit = protocol.EventWriter(log_path=str(run_dir / LOG_FILE), on_closed=stop.request)
    started = time.perf_counter()
    if folder.device.type == "cpu":
        torch.set_num_threads(max(1, config.cpu_threads))
    emit(
        protocol.STARTED,
        run_dir=str(run_dir),
        prompt=config.prompt,
        prior=config.guidance.prior,
        total=config.optim.steps,
        device=str(folder.device),
        resumed=folder.resumed,
    )
    messages = {"prior": f"preparing the {config.guidance.prior} prior"}
    progress = StageProgress(emit, stop, messages, uninterruptible=("export",))  # mesh files are replaced together

    def cancelled(step: int) -> int:
        emit(protocol.CANCELLED, step=step, checkpoint=str(run_dir / "checkpoint"))
        return 0

    try:
        prior = prepare_prior(folder, cache_dir, progress.of("prior"))
    except Stopped:
        return cancelled(folder.saved_step or 0)
    trainer = Trainer(config, prior, run_dir, emit, folder.device, stop)
    if folder.has_checkpoint:
        trainer.resume()
    if not trainer.optimize() or not trainer.write_turntable():
        return cancelled(trainer.step)
    density_fn, albedo_fn = trainer.field_callables()
    try:
        with trainer.field.frozen():
            result = export_run(
                density_fn,
                albedo_fn,
                config.mesh,
                trainer.field.bound,
                run_dir,
                progress,
                trainer.field.surface_density,
            )
    except Stopped:
        return cancelled(trainer.step)
    emit(
        protocol.DONE,
        run_dir=str(run_dir),
        mesh=str(result.mesh_npz),
        glb=str(result.glb),
        elapsed_s=round(time.perf_counter() - started, 2),
        steps=trainer.step,
        vertices=result.vertices,
        faces=result.faces,
        threshold=result.threshold,
        phase_s=trainer.phase_seconds(),
        peak_memory=asdict(trainer.memory.sample()),
    )
    return 0
