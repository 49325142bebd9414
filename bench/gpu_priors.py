"""Throughput of one SDS step through each learned prior, on full-size architectures with RANDOM weights.

    .venv/bin/python -m bench.gpu_priors            # GPU: stable-diffusion-2-1-base and IF-I-XL, fp16
    .venv/bin/python -m bench.gpu_priors --tiny     # CPU smoke check of this script on shrunken configs

No checkpoint is downloaded: the UNets (and Stable Diffusion's VAE) are built from their public configs
with random weights, and random text embeddings of the right shape stand in for the text encoders,
which run once per prompt and not per step. Numbers are throughput only, never image quality.
One step is the engine's own path: ``ScoreDistillation`` over ``StableDiffusionPrior`` /
``DeepFloydIFPrior`` (SD: 64 px render upsampled to 512 and VAE-encoded with grad, UNet on the
batch [cond; uncond] under no_grad, backward through the encoder; IF: the UNet on 64 px pixels).
The NeRF renderer is not included. Target (issue 3): >= 15 it/s for SD at batch 1 on one H100, < 8 GB peak.
Prints a table and writes bench/results/gpu_priors.json (gpu_priors_tiny.json with --tiny).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from engine.config import GuidanceConfig
from engine.device import choose_device, denoiser_dtype
from engine.guidance.base import ViewContext
from engine.guidance.deepfloyd_if import TEXT_TOKENS, DeepFloydIFPrior
from engine.guidance.learned_prior import RENDER_RESOLUTION, LearnedPrior
from engine.guidance.model_loading import frozen
from engine.guidance.sds import ScoreDistillation
from engine.guidance.stable_diffusion import StableDiffusionPrior
from engine.shading import ShadingMode

from .results_file import GPU, RESULTS_DIR, Envelope, Results, write_results

LABEL = "random weights, throughput only"
SD_TARGET_IT_PER_S = 15.0
SD_TARGET_PEAK_BYTES = 8e9

# stabilityai/stable-diffusion-2-1-base: unet/config.json and vae/config.json (the fields that shape the network).
SD21_BASE_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "cross_attention_dim": 1024,
    "attention_head_dim": (5, 10, 20, 20),
    "use_linear_projection": True,
    "act_fn": "silu",
    "norm_num_groups": 32,
}
SD21_BASE_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 768,
    "scaling_factor": 0.18215,
}
SD21_BASE_SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
}
SD21_TEXT_WIDTH = 1024  # OpenCLIP ViT-H text encoder

# DeepFloyd/IF-I-XL-v1.0's unet/config.json. Checked against public descriptions of that file: 3 layers per block,
# widths (704, 1408, 2112, 2816), cross-attention width 2816, gelu, T5 width 4096; the model card's attention pooling
# has 64 heads; the parameter count (4.30 B) matches the published 4.3 B. attention_head_dim (64) is unchecked.
IF_I_XL_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 3,
    "out_channels": 6,
    "layers_per_block": 3,
    "block_out_channels": (704, 1408, 2112, 2816),
    "down_block_types": (
        "ResnetDownsampleBlock2D",
        "SimpleCrossAttnDownBlock2D",
        "SimpleCrossAttnDownBlock2D",
        "SimpleCrossAttnDownBlock2D",
    ),
    "mid_block_type": "UNetMidBlock2DSimpleCrossAttn",
    "up_block_types": (
        "SimpleCrossAttnUpBlock2D",
        "SimpleCrossAttnUpBlock2D",
        "SimpleCrossAttnUpBlock2D",
        "ResnetUpsampleBlock2D",
    ),
    "cross_attention_dim": 2816,
    "encoder_hid_dim": 4096,
    "attention_head_dim": 64,
    "addition_embed_type": "text",
    "addition_embed_type_num_heads": 64,
    "cross_attention_norm": "group_norm",
    "resnet_time_scale_shift": "scale_shift",
    "act_fn": "gelu",
}
IF_SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "variance_type": "learned_range",
    "prediction_type": "epsilon",
    "thresholding": True,
    "dynamic_thresholding_ratio": 0.95,
    "sample_max_value": 1.5,
}
IF_TEXT_WIDTH = 4096  # T5 v1.1 XXL

# --tiny: the same block types with small widths, so the script's whole path runs on a CPU in seconds.
TINY_SD_UNET = {
    **SD21_BASE_UNET,
    "sample_size": 8,
    "layers_per_block": 1,
    "block_out_channels": (32, 32, 64, 64),
    "cross_attention_dim": 32,
    "attention_head_dim": 2,
}
TINY_SD_VAE = {**SD21_BASE_VAE, "block_out_channels": (32, 32, 32, 32), "layers_per_block": 1, "sample_size": 64}
TINY_IF_UNET = {
    **IF_I_XL_UNET,
    "layers_per_block": 1,
    "block_out_channels": (32, 32, 64, 64),
    "cross_attention_dim": 32,
    "encoder_hid_dim": 32,
    "attention_head_dim": 8,
    "addition_embed_type_num_heads": 2,
}
TINY_TEXT_WIDTH = 32


@dataclass
class PriorResult:
    """One row of the table and of the JSON file."""

    prior: str
    architecture: str
    parameters: dict[str, int]
    published_parameters: str
    dtype: str
    batch: int
    steps: int
    it_per_s: float
    ms_per_step: float
    peak_memory_bytes: int | None  # CUDA only
    meets_target: bool | None  # SD on CUDA at full size only


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _built(model_class: Any, config: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Any:
    """A model with random weights made directly on ``device`` in ``dtype`` (IF-I-XL is 17 GB in float32)."""
    with torch.device(device), _default_dtype(dtype):
        model = model_class(**config)
    return frozen(model, device)


def _scheduler(config: dict[str, Any]) -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler(**config)


def build_stable_diffusion(tiny: bool, device: torch.device, dtype: torch.dtype) -> tuple[LearnedPrior, dict, int]:
    from diffusers import AutoencoderKL, UNet2DConditionModel

    unet = _built(UNet2DConditionModel, TINY_SD_UNET if tiny else SD21_BASE_UNET, device, dtype)
    vae = _built(AutoencoderKL, TINY_SD_VAE if tiny else SD21_BASE_VAE, device, dtype)
    prior = StableDiffusionPrior(unet, vae, _scheduler(SD21_BASE_SCHEDULER), None, None, device)
    return prior, {"unet": _count(unet), "vae": _count(vae)}, TINY_TEXT_WIDTH if tiny else SD21_TEXT_WIDTH


def build_deepfloyd_if(tiny: bool, device: torch.device, dtype: torch.dtype) -> tuple[LearnedPrior, dict, int]:
    from diffusers import UNet2DConditionModel

    unet = _built(UNet2DConditionModel, TINY_IF_UNET if tiny else IF_I_XL_UNET, device, dtype)
    prior = DeepFloydIFPrior(unet, _scheduler(IF_SCHEDULER), None, None, device)
    return prior, {"unet": _count(unet)}, TINY_TEXT_WIDTH if tiny else IF_TEXT_WIDTH


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
    name: str,
    architecture: str,
    published: str,
    build: Callable[[bool, torch.device, torch.dtype], tuple[LearnedPrior, dict, int]],
    args: argparse.Namespace,
    device: torch.device,
    dtype: torch.dtype,
) -> PriorResult:
    prior, parameters, text_width = build(args.tiny, device, dtype)
    seconds, peak = time_sds_steps(prior, text_width, device, args.steps, args.warmup)
    del prior
    if device.type == "cuda":
        torch.cuda.empty_cache()
    meets = None
    if name == StableDiffusionPrior.name and device.type == "cuda" and not args.tiny:
        meets = 1.0 / seconds >= SD_TARGET_IT_PER_S and peak is not None and peak < SD_TARGET_PEAK_BYTES
    return PriorResult(
        prior=name,
        architecture=f"{architecture} (tiny widths)" if args.tiny else architecture,
        parameters=parameters,
        published_parameters="n/a (tiny widths)" if args.tiny else published,
        dtype=str(dtype).removeprefix("torch."),
        batch=1,
        steps=args.steps,
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
    args.steps = args.steps or (3 if args.tiny else 50)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 5)

    device = choose_device(args.device)
    if device.type == "cpu" and not args.tiny:
        print("full-size models need a GPU (IF-I-XL alone is 17 GB in float32); use --tiny on a CPU", file=sys.stderr)
        return 2
    dtype = denoiser_dtype(device, half=True)
    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else f"{device.type} ({platform.machine()})"
    )
    results = [
        run_prior(
            StableDiffusionPrior.name,
            "stable-diffusion-2-1-base",
            "UNet 865.9 M, VAE 83.7 M",
            build_stable_diffusion,
            args,
            device,
            dtype,
        ),
        run_prior(DeepFloydIFPrior.name, "IF-I-XL-v1.0", "UNet 4.3 B", build_deepfloyd_if, args, device, dtype),
    ]
    print_table(results, device_name)
    out = args.out or RESULTS_DIR / ("gpu_priors_tiny.json" if args.tiny else GPU.name)
    payload = {
        "label": LABEL,
        "tiny": args.tiny,
        "device": device_name,
        "target": f"stable-diffusion >= {SD_TARGET_IT_PER_S} it/s and < {SD_TARGET_PEAK_BYTES / 1e9:.0f} GB peak",
        "notes": [
            "Random weights and random text embeddings: throughput only.",
            "One step = ScoreDistillation over the prior at batch 1; the NeRF renderer is not included.",
            "IF-I-XL config from its public unet/config.json: widths, depths, cross-attention width and pooling "
            "heads checked against public descriptions and the parameter count (4.30 B vs 4.3 B published); "
            "attention_head_dim unchecked.",
        ],
        "results": [asdict(r) for r in results],
    }
    write_results(out, Results(Envelope.now(GPU.kind), payload))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
