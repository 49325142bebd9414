"""``generate``: prompt -> optimized field -> mesh with baked albedo, reported as protocol events.

The command alone: its flags, and which of its jobs a command line asks for. A run's settings come from
``engine/config_assembly.py``, its folder (new, or ``--resume``'s) from ``engine/run_folder.py``, and the run itself
from ``engine/generation.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .. import protocol
from ..config import DEVICES, PRESETS, RunConfig, check, to_dict
from ..config_assembly import DEFAULT_PRESET, build_config, default_cache_dir
from ..device import is_out_of_memory, out_of_memory_error
from ..generation import generate
from ..recipes import recipe_for
from ..registry import FIELDS, PRIORS, choices_help, resolve
from ..run_folder import new_run, resume_run, resumed_config
from ..stop_signal import StopSignal

HELP = "Generate a 3D asset from a text prompt (Score Distillation Sampling)."
SKIP_TEARDOWN = True  # a stopped run exits at once after its `cancelled` event (engine/cli.py)
# Free text: the argument after these is always their value, even when it starts with "-" (engine/cli.py).
TEXT_OPTIONS = ("--prompt", "--negative-prompt")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = RunConfig()
    parser.add_argument("--prompt", help="what to make, e.g. 'a red cube'")
    parser.add_argument("--negative-prompt", default=None, help="what to avoid (learned priors)")
    parser.add_argument("--prior", default=None, help=choices_help(PRIORS, defaults.guidance.prior))
    parser.add_argument("--field", default=None, help=choices_help(FIELDS, defaults.field.name))
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


def dry_run(args: argparse.Namespace) -> int:
    """One ``config`` event with every setting the run would use (a new run's, or ``--resume``'s with its changes),
    checked, its field's class found; no folder, lock, model or weights are touched."""
    if args.resume is None:
        config = build_config(args)
        check(config)
        recipe: str | None = recipe_for(config.guidance.prior).name
    else:
        config = resumed_config(args)
        recipe = None  # a resumed run keeps its config.json's settings
    resolve(FIELDS, config.field.name, "field")  # a field is a small torch module; a prior may import diffusers
    protocol.emit(protocol.CONFIG, config=to_dict(config), recipe=recipe)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.dry_run:
        return dry_run(args)
    stop = StopSignal().install()
    folder = resume_run(args) if args.resume is not None else new_run(args)
    try:
        return generate(folder, args.cache_dir or default_cache_dir(), stop)
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        low_memory_helps = folder.prior_class.has_low_memory_mode and not folder.config.guidance.low_memory
        raise out_of_memory_error(folder.device, folder.path, low_memory_helps) from exc
    finally:
        folder.lock.release()
