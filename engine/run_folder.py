"""The folder a ``generate`` run works in: claimed new (missing or empty), or resumed from its checkpoint, and locked.

Everything a run can know is checked before anything is written: every setting (``engine/config.py``), the
device, the field and the prior (its vocabulary, or its model files). The folder's lock (``engine/run_lock.py``)
is taken before the first write and held to the end, so one process works on a folder; a refused run leaves no
folder or lock behind.
"""

from __future__ import annotations

import argparse
import json
import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import torch

from . import checkpoint, protocol
from .atomic_write import write_text
from .batch.prompt_run import STDERR_FILE
from .cli import ERROR_LOG
from .config import RunConfig, check, from_dict, override, to_dict
from .config_assembly import NEW_RUN_FLAGS, RESUME_FLAGS, build_config, given_flags
from .config_migration import migrated
from .config_schema import ConfigError
from .device import choose_device
from .errors import EngineError
from .guidance.base import DiffusionPrior
from .registry import FIELDS, PRIORS, resolve
from .run_files import SpecialFileError, check_folder, read_text
from .run_lock import LOCK_FILE, RunLock

CONFIG_FILE = "config.json"
LOG_FILE = "log.jsonl"
# What a client puts in a run folder before the engine starts (a batch's lock and stderr log, the add-on's
# worker.log, bridge/engine_run.py), and an earlier refusal's error log: a folder holding only these is empty.
CLIENT_FILES = frozenset({LOCK_FILE, STDERR_FILE, "worker.log", ERROR_LOG})
# What only a run that has checkpointed leaves: without a checkpoint beside them, --resume would start again.
CHECKPOINTED_FILES = ("density_grid.npz", "mesh.npz")


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


def check_runnable(config: RunConfig) -> tuple[torch.device, type[DiffusionPrior]]:
    """The device and the prior class, once both can run ``config``: nothing is loaded or written."""
    check(config)
    device = choose_device(config.device)
    resolve(FIELDS, config.field.name, "field")
    prior_class: type[DiffusionPrior] = resolve(PRIORS, config.guidance.prior, "prior")
    prior_class.check_run_config(config)
    return device, prior_class


def write_config(run_dir: Path, config: RunConfig) -> None:
    write_text(run_dir / CONFIG_FILE, json.dumps(to_dict(config), indent=2))


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
    """A new run's folder, claimed and locked, holding its config.json."""
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


def resumed_config(args: argparse.Namespace) -> RunConfig:
    """The config ``--resume`` would run (its config.json with the flags it may change applied), checked; nothing
    is locked or written."""
    config = load_run_config(resumed_folder(args))
    override(config, given_flags(args, RESUME_FLAGS))
    check(config)
    return config


def resume_run(args: argparse.Namespace) -> RunFolder:
    """Lock an existing run folder and check its config, with the flags --resume may change applied."""
    path = resumed_folder(args)
    check_folder(path)
    lock = RunLock(path).acquire()
    try:
        refuse_lost_checkpoint(path)
        config = load_run_config(path)
        changes = given_flags(args, RESUME_FLAGS)
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
