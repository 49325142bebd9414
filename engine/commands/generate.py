"""``generate``: prompt -> optimized field -> mesh with baked albedo, reported as protocol events."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from .. import protocol
from ..config import PRESETS, RunConfig, from_dict, override, to_dict
from ..device import choose_device
from ..errors import EngineError
from ..mesh.pipeline import export_run
from ..protocol import MAX_PROMPT_CHARS
from ..registry import PRIORS, resolve
from ..stop_signal import StopSignal
from ..trainer import Trainer

HELP = "Generate a 3D asset from a text prompt (Score Distillation Sampling)."
CONFIG_FILE = "config.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", help="what to make, e.g. 'a red cube'")
    parser.add_argument("--negative-prompt", default=None, help="what to avoid (learned priors)")
    parser.add_argument("--prior", default=None, help="procedural | stable-diffusion | deepfloyd-if")
    parser.add_argument("--model", default=None, help="model folder or hub id for learned priors")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="balanced", help="quality preset")
    parser.add_argument("--steps", type=int, default=None, help="optimization steps (overrides the preset)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--guidance-scale", type=float, default=None, help="classifier-free guidance scale")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | mps")
    parser.add_argument("--out", type=Path, help="run folder to create (or to resume with --resume)")
    parser.add_argument("--resume", type=Path, default=None, help="continue the run in this folder")
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


def default_cache_dir() -> Path:
    base = os.environ.get("DREAMFUSION_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "dreamfusion"
    )
    return Path(base)


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["render.samples_per_ray=48"]`` -> ``{"render.samples_per_ray": 48}`` (values parsed as JSON)."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise EngineError(f"--set expects KEY=VALUE, got {item!r}", "input")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides[key.strip()] = tuple(value) if isinstance(value, list) else value
    return overrides


def build_config(args: argparse.Namespace) -> RunConfig:
    """A RunConfig from the preset, then the flags; checks the prompt."""
    prompt = (args.prompt or "").strip()
    if not prompt:
        raise EngineError("the prompt is empty: describe an object, for example --prompt 'a red cube'", "input")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise EngineError(f"the prompt is {len(prompt)} characters long; keep it under {MAX_PROMPT_CHARS}", "input")
    config = RunConfig(prompt=prompt)
    dotted: dict[str, Any] = dict(PRESETS[args.preset])
    flags = {
        "guidance.prior": args.prior,
        "guidance.model": args.model,
        "guidance.negative_prompt": args.negative_prompt,
        "guidance.guidance_scale": args.guidance_scale,
        "optim.steps": args.steps,
        "seed": args.seed,
        "device": args.device,
        "preview_every": args.preview_every,
        "checkpoint_every": args.checkpoint_every,
    }
    dotted.update({key: value for key, value in flags.items() if value is not None})
    dotted.update(parse_set(args.set))
    try:
        override(config, dotted)
    except (ValueError, AttributeError) as exc:
        raise EngineError(str(exc), "input") from exc
    if config.optim.steps < 1:
        raise EngineError("--steps must be at least 1", "input")
    return config


def prepare_run_dir(path: Path | None) -> Path:
    """Create a new run folder; refuse one that already holds a run, so nothing earlier is overwritten."""
    if path is None:
        raise EngineError("--out is required: the folder to write the run into", "input")
    path = path.expanduser().resolve()
    if (path / CONFIG_FILE).exists():
        raise EngineError(
            f"{path} already holds a run; choose a new --out folder, or continue it with --resume {path}", "output"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise EngineError(f"cannot write to {path} ({exc.strerror}); choose another --out folder", "output") from exc
    return path


def load_run_config(run_dir: Path) -> RunConfig:
    try:
        return from_dict(RunConfig, json.loads((run_dir / CONFIG_FILE).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise EngineError(f"{run_dir} is not a run folder that can be resumed ({exc})", "checkpoint") from exc


def run(args: argparse.Namespace) -> int:
    stop = StopSignal().install()
    if args.resume is not None:
        run_dir = args.resume.expanduser().resolve()
        config = load_run_config(run_dir)
        if args.steps is not None:
            config.optim.steps = args.steps
    else:
        config = build_config(args)
        run_dir = prepare_run_dir(args.out)
        (run_dir / CONFIG_FILE).write_text(json.dumps(to_dict(config), indent=2))
    emit = protocol.EventWriter(log_path=str(run_dir / "log.jsonl"))
    started = time.perf_counter()
    device = choose_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(max(1, config.cpu_threads))
    emit(
        protocol.STARTED,
        run_dir=str(run_dir),
        prompt=config.prompt,
        prior=config.guidance.prior,
        total=config.optim.steps,
        device=str(device),
        resumed=args.resume is not None,
    )
    emit(protocol.STAGE, name="prior", message=f"preparing the {config.guidance.prior} prior")
    prior_class = resolve(PRIORS, config.guidance.prior, "prior")
    prior = prior_class.from_run_config(config, device, args.cache_dir or default_cache_dir())
    trainer = Trainer(config, prior, run_dir, emit, device, stop)
    if args.resume is not None:
        trainer.resume()
    if not trainer.optimize():
        emit(protocol.CANCELLED, step=trainer.step, checkpoint=str(trainer.checkpoint_dir))
        return 0
    trainer.write_turntable()
    density_fn, albedo_fn = trainer.field_callables()

    reported: dict[str, float] = {}

    def progress(stage: str, fraction: float) -> None:
        """Stage events at each stage's start, every 10% and its end."""
        if stage in reported and fraction < 1.0 and fraction - reported[stage] < 0.1:
            return
        reported[stage] = fraction
        emit(protocol.STAGE, name=stage, message=f"{stage} {fraction:.0%}", fraction=round(fraction, 3))

    with trainer.field.frozen():
        result = export_run(
            density_fn, albedo_fn, config.mesh, trainer.field.bound, run_dir, progress, trainer.field.surface_density
        )
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
    )
    return 0
