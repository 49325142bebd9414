"""The full-size learned path on this machine's CPU: Stable Diffusion 2.1-base with random weights, prompt to mesh.

    python -m bench full-size [--steps 2] [--work DIR]      # about 100 s a step and 8 GB: run it once, niced
    python -m bench full-size --tiny --out FILE --work DIR  # tiny widths and 16 samples a ray, seconds (the tests)

Stable Diffusion 2.1-base is built from its public configs with random weights (``bench/random_checkpoint.py``) and
saved as a diffusers folder in float32, then ``python -m engine generate --prior stable-diffusion --model FOLDER
--steps 2 --device cpu`` runs through the real CLI (``bench/engine_run.py``) to an exported mesh. The JSON
(bench/results/full_size.json) holds the engine's own seconds per step and their render / prior / update split,
the model's load time and the process's peak resident memory. DeepFloyd IF-I-XL is not run: its float32 weights
(``engine/memory_needs.py``) do not fit in this machine's memory, and the JSON says so with the numbers.
Random weights: cost only, never quality.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from engine.memory_needs import memory_needs

from .architectures import STABLE_DIFFUSION_2_1_BASE, TINY, Architecture
from .device_check import TINY_OVERRIDES
from .engine_run import EngineRequest, RunRecord, run_engine
from .full_size_results import GB, FullSizePayload, LearnedRun, NotRun
from .random_checkpoint import save_random_checkpoint
from .results_file import FULL_SIZE, RESULTS_DIR, Envelope, Results, write_results

PROMPT = "a red cube"
DTYPE = torch.float32  # what the engine loads on a CPU (engine/device.py denoiser_dtype)
WORK_DIR = RESULTS_DIR / "full-size.tmp"  # the model folder (5 GB) and the run folder; ignored by git


def machine_memory_bytes() -> int:
    """This machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def build_model(architecture: Architecture, folder: Path) -> Path:
    """The random-weight SD 2.1-base folder, built in a child process so its 5 GB of tensors are freed before the
    engine loads them again (the two together would double this benchmark's peak)."""
    if (folder / "model_index.json").is_file():
        return folder
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=save_random_checkpoint, args=(architecture, folder, torch.device("cpu"), DTYPE))
    child.start()
    child.join()
    if child.exitcode != 0 or not (folder / "model_index.json").is_file():
        raise RuntimeError(f"building the random-weight model in {folder} failed (exit code {child.exitcode})")
    return folder


def sd_result(architecture: Architecture, record: RunRecord, steps: int) -> LearnedRun:
    """The run's cost per step (the engine's own phase timings), its load time and peak memory."""
    phases = record.phase_s or {}
    done = max(record.steps, 1)
    return LearnedRun(
        prior=architecture.prior,
        architecture=architecture.name,
        dtype=str(DTYPE).removeprefix("torch."),
        steps=record.steps,
        steps_asked=steps,
        seconds_per_step=round(sum(phases.values()) / done, 2) if phases else None,
        split_s_per_step={name: round(seconds / done, 2) for name, seconds in phases.items()} or None,
        load_s=record.prior_s,
        finish_s=record.finish_s,
        wall_s=record.wall_s,
        peak_rss_bytes=int(record.peak_rss_mib * 1024 * 1024),
        engine_peak_memory=record.peak_memory,
        mesh=record.mesh is not None and Path(record.mesh).is_file(),
        faces=record.faces,
        error=record.error,
    )


def engine_threads(run_dir: Path) -> int | None:
    """The torch threads the engine ran on (its config.json's cpu_threads)."""
    try:
        return int(json.loads((run_dir / "config.json").read_text())["cpu_threads"])
    except (OSError, ValueError, KeyError):
        return None


def deepfloyd_if_result(memory: int) -> NotRun:
    """Why IF-I-XL is not run here: its float32 weights against this machine's memory (engine/memory_needs.py)."""
    (need,) = [need for need in memory_needs("float32", None) if need.prior == "deepfloyd-if"]
    fits = need.weights_bytes < memory  # on a CPU the text encoder and the UNet are in RAM together, low memory or not
    return NotRun(
        prior=need.prior,
        model=need.model,
        dtype=need.dtype,
        run=False,
        weights_bytes=need.weights_bytes,
        low_memory_weights_bytes=need.low_memory_weights_bytes,
        machine_memory_bytes=memory,
        fits=fits,
        why=(
            f"IF-I-XL's float32 weights are {need.weights_bytes / GB:.1f} GB (T5-XXL encoder and UNet), "
            f"{need.low_memory_weights_bytes / GB:.1f} GB at most at once on a GPU in low-memory mode; on a CPU both "
            f"are loaded into RAM together, against {memory / GB:.1f} GB here"
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench full-size", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--work", type=Path, default=WORK_DIR, help="the model folder and the run folder go here")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / FULL_SIZE.name)
    parser.add_argument("--tiny", action="store_true", help="tiny widths: the same path in seconds")
    args = parser.parse_args(argv)
    architecture = TINY[0] if args.tiny else STABLE_DIFFUSION_2_1_BASE
    name = "tiny-sd-random" if args.tiny else "stable-diffusion-2-1-base-random"
    model = build_model(architecture, args.work / name)
    run_dir = args.work / "run"
    if (run_dir / "config.json").exists():
        raise SystemExit(f"{run_dir} holds an earlier run; remove it first")
    request = EngineRequest(
        prompt=PROMPT,
        preset="fast",
        steps=args.steps,
        prior="stable-diffusion",
        model=model,
        device="cpu",
        overrides=TINY_OVERRIDES if args.tiny else (),  # the recipe's 512 samples a ray take minutes on a CPU
    )
    record = run_engine(request, run_dir)
    memory = machine_memory_bytes()
    payload = FullSizePayload(
        label="random weights, cost only",
        tiny=args.tiny,
        engine_command=" ".join(["python -m engine", *request.argv(run_dir)]),
        cpu_threads=engine_threads(run_dir),
        notes=[
            "SD 2.1-base built from its public configs with random weights, float32, saved as a diffusers folder and "
            "loaded by `generate --model`; the engine's own step timings (the first step's warm-up included) and "
            "the engine process's peak resident memory (wait4).",
            "render: the volume render; prior: the VAE encoder at 512 px and the UNet on [cond; uncond]; update: "
            "the backward pass through the VAE encoder and the renderer, and Adam.",
        ],
        stable_diffusion=sd_result(architecture, record, args.steps),
        deepfloyd_if=deepfloyd_if_result(memory),
    )
    write_results(args.out, Results(Envelope.now(FULL_SIZE.kind), payload.to_json()))
    print(f"wrote {args.out}: {asdict(record)['error'] or 'ok'}")
    return 0 if record.ok else 1


if __name__ == "__main__":
    sys.exit(main())
