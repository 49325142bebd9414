"""Throughput of one SDS step through each learned prior, on full-size architectures with RANDOM weights.

    .venv/bin/python -m bench.gpu_priors            # GPU: stable-diffusion-2-1-base and IF-I-XL, fp16
    .venv/bin/python -m bench.gpu_priors --tiny     # CPU smoke check of this script on shrunken configs

The networks come from ``bench/architectures.py`` (public configs, random weights, random text embeddings
of the right shape for the text encoders). Numbers are throughput only, never image quality.
One step is the engine's own path: ``ScoreDistillation`` over ``StableDiffusionPrior`` /
``DeepFloydIFPrior`` (SD: 64 px render upsampled to 512 and VAE-encoded with grad, UNet on the
batch [cond; uncond] under no_grad, backward through the encoder; IF: the UNet on 64 px pixels).
The NeRF renderer is not included. Targets (bench/targets.py): SD's it/s at batch 1 on one H100 and its peak memory.
Prints a table and writes bench/results/gpu_priors.json (gpu_priors_tiny.json with --tiny).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from engine.config import GuidanceConfig
from engine.device import choose_device, denoiser_dtype
from engine.guidance.deepfloyd_if import TEXT_TOKENS
from engine.guidance.learned_prior import RENDER_RESOLUTION, LearnedPrior
from engine.guidance.sds import ScoreDistillation
from engine.prompts import ViewContext
from engine.shading import ShadingMode

from .architectures import FULL_SIZE, STABLE_DIFFUSION_2_1_BASE, TINY, Architecture, build_prior
from .gpu_priors_results import GpuPayload, PriorResult
from .results_file import GPU, RESULTS_DIR, Envelope, Results, write_results
from .targets import target

LABEL = "random weights, throughput only"
SD_IT_PER_S = target("gpu-sd-it-per-s")
SD_PEAK = target("gpu-sd-peak")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_sds_steps(
    prior: LearnedPrior, text_width: int, device: torch.device, steps: int, warmup: int
) -> tuple[float, int | None]:
    """Seconds per SDS step at batch 1 (after ``warmup`` steps) and the CUDA peak memory while stepping."""
    generator = torch.Generator().manual_seed(0)
    condition, negative = torch.randn(2, 1, TEXT_TOKENS, text_width, generator=generator).unbind(0)
    prior.set_embeddings({"front": condition}, negative)
    sds = ScoreDistillation(prior, GuidanceConfig())
    views = [ViewContext("front", ShadingMode.COLORED, 0.0, 0.0)]
    render = torch.rand(1, 3, RENDER_RESOLUTION, RENDER_RESOLUTION, generator=generator).to(device)
    render.requires_grad_(True)

    def step() -> None:
        render.grad = None
        sds(render, views, 0.5, generator).loss.backward()

    for _ in range(warmup):
        step()
    _synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return seconds, peak


def run_prior(
    architecture: Architecture, steps: int, warmup: int, device: torch.device, dtype: torch.dtype
) -> PriorResult:
    """Build one prior, time its SDS steps and free it again before the next is built."""
    built = build_prior(architecture, device, dtype)
    parameters = built.parameters
    seconds, peak = time_sds_steps(built.prior, architecture.text_width, device, steps, warmup)
    del built  # IF-I-XL needs the memory Stable Diffusion held
    if device.type == "cuda":
        torch.cuda.empty_cache()
    meets = None
    if architecture is STABLE_DIFFUSION_2_1_BASE and device.type == "cuda":
        meets = SD_IT_PER_S.met(1.0 / seconds) and peak is not None and SD_PEAK.met(peak)
    return PriorResult(
        prior=architecture.prior,
        architecture=architecture.name,
        parameters=parameters,
        published_parameters=architecture.published_parameters,
        dtype=str(dtype).removeprefix("torch."),
        batch=1,
        steps=steps,
        it_per_s=round(1.0 / seconds, 3),
        ms_per_step=round(1000.0 * seconds, 2),
        peak_memory_bytes=peak,
        meets_target=meets,
    )


def print_table(results: list[PriorResult], device_name: str) -> None:
    print(f"SDS step through each learned prior, batch 1 on {device_name} -- {LABEL}")
    header = f"{'prior':<17} {'architecture':<40} {'params (M)':>22} {'dtype':<8} {'it/s':>8} {'ms/step':>9}"
    print(header + f" {'peak GB':>8}  target")
    for r in results:
        params = " + ".join(f"{k} {v / 1e6:.1f}" for k, v in r.parameters.items())
        peak = f"{r.peak_memory_bytes / 1e9:.2f}" if r.peak_memory_bytes is not None else "n/a"
        target = {None: "-", True: "met", False: "MISSED"}[r.meets_target]
        print(
            f"{r.prior:<17} {r.architecture:<40} {params:>22} {r.dtype:<8} {r.it_per_s:>8.2f} {r.ms_per_step:>9.1f}"
            f" {peak:>8}  {target}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="shrunken configs: a CPU smoke check of this script")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 50, 3 with --tiny)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5, 1 with --tiny)")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/gpu_priors.json)")
    args = parser.parse_args(argv)
    steps = args.steps or (3 if args.tiny else 50)
    warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 5)

    device = choose_device(args.device)
    if device.type == "cpu" and not args.tiny:
        print("full-size models need a GPU (IF-I-XL alone is 17 GB in float32); use --tiny on a CPU", file=sys.stderr)
        return 2
    dtype = denoiser_dtype(device, half=True)
    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else f"{device.type} ({platform.machine()})"
    )
    results = [run_prior(a, steps, warmup, device, dtype) for a in (TINY if args.tiny else FULL_SIZE)]
    print_table(results, device_name)
    out = args.out or RESULTS_DIR / ("gpu_priors_tiny.json" if args.tiny else GPU.name)
    payload = GpuPayload(
        label=LABEL,
        tiny=args.tiny,
        device=device_name,
        target=f"{SD_IT_PER_S.text()} and {SD_PEAK.text()}",
        notes=[
            "Random weights and random text embeddings: throughput only.",
            "One step = ScoreDistillation over the prior at batch 1; the NeRF renderer is not included.",
            "IF-I-XL config from its public unet/config.json: widths, depths, cross-attention width and pooling "
            "heads checked against public descriptions and the parameter count (4.30 B vs 4.3 B published); "
            "attention_head_dim unchecked.",
        ],
        results=results,
    )
    write_results(out, Results(Envelope.now(GPU.kind), payload.to_json()))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
