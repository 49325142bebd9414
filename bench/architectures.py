"""The learned priors' full-size network shapes (and shrunken ones), and a builder with random weights.

No checkpoint is downloaded: the UNets (and Stable Diffusion's VAE) are built from their public configs
with random weights, so throughput and memory can be measured (``bench/gpu_priors.py``), and a device
check can build exactly the same models, without the weights. Random text embeddings of ``text_width``
stand in for the text encoders, which run once per prompt and not per step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

from engine.guidance.deepfloyd_if import DeepFloydIFPrior
from engine.guidance.learned_prior import LearnedPrior
from engine.guidance.model_loading import frozen
from engine.guidance.stable_diffusion import StableDiffusionPrior

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
# stabilityai/stable-diffusion-2-1-base: text_encoder/config.json (CLIPTextConfig; 340,387,840 parameters).
SD21_TEXT_ENCODER: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": SD21_TEXT_WIDTH,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "projection_dim": 512,
}

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
# DeepFloyd/IF-I-XL-v1.0: text_encoder/config.json (T5 v1.1 XXL's encoder; 4,762,310,656 parameters).
IF_T5_ENCODER: dict[str, Any] = {
    "vocab_size": 32128,
    "d_model": IF_TEXT_WIDTH,
    "d_ff": 10240,
    "d_kv": 64,
    "num_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "feed_forward_proj": "gated-gelu",
}

# Tiny: the same block types with small widths, so the whole path runs on a CPU in seconds.
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
TINY_SD_TEXT_ENCODER = {
    **SD21_TEXT_ENCODER,
    "hidden_size": TINY_TEXT_WIDTH,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
}
TINY_IF_T5_ENCODER = {
    **IF_T5_ENCODER,
    "d_model": TINY_TEXT_WIDTH,
    "d_ff": 37,
    "d_kv": 8,
    "num_layers": 2,
    "num_heads": 4,
}


@dataclass(frozen=True)
class Architecture:
    """One learned prior's networks as configs: what the engine's prior class needs, minus the weights."""

    prior: str  # the engine's prior name (StableDiffusionPrior.name, DeepFloydIFPrior.name)
    name: str  # the checkpoint whose shapes these are
    published_parameters: str  # as the checkpoint's publishers count them
    unet: dict[str, Any]
    vae: dict[str, Any] | None  # latent priors only
    scheduler: dict[str, Any]
    text_width: int  # the text encoder's output width: the UNet's conditioning
    text_encoder: dict[str, Any]  # its config (CLIPTextConfig or T5Config keywords)


STABLE_DIFFUSION_2_1_BASE = Architecture(
    StableDiffusionPrior.name,
    "stable-diffusion-2-1-base",
    "UNet 865.9 M, VAE 83.7 M",
    SD21_BASE_UNET,
    SD21_BASE_VAE,
    SD21_BASE_SCHEDULER,
    SD21_TEXT_WIDTH,
    SD21_TEXT_ENCODER,
)
DEEPFLOYD_IF_I_XL = Architecture(
    DeepFloydIFPrior.name, "IF-I-XL-v1.0", "UNet 4.3 B", IF_I_XL_UNET, None, IF_SCHEDULER, IF_TEXT_WIDTH, IF_T5_ENCODER
)
FULL_SIZE: tuple[Architecture, ...] = (STABLE_DIFFUSION_2_1_BASE, DEEPFLOYD_IF_I_XL)


def _tiny(
    architecture: Architecture, unet: dict[str, Any], vae: dict[str, Any] | None, text_encoder: dict[str, Any]
) -> Architecture:
    return replace(
        architecture,
        name=f"{architecture.name} (tiny widths)",
        published_parameters="n/a (tiny widths)",
        unet=unet,
        vae=vae,
        text_width=TINY_TEXT_WIDTH,
        text_encoder=text_encoder,
    )


TINY: tuple[Architecture, ...] = (
    _tiny(STABLE_DIFFUSION_2_1_BASE, TINY_SD_UNET, TINY_SD_VAE, TINY_SD_TEXT_ENCODER),
    _tiny(DEEPFLOYD_IF_I_XL, TINY_IF_UNET, None, TINY_IF_T5_ENCODER),
)


@dataclass
class BuiltPrior:
    """A prior built from an architecture, with the parameter count of each network."""

    architecture: Architecture
    prior: LearnedPrior
    parameters: dict[str, int]


@contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def built(model_class: Any, config: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """A model with random weights made directly on ``device`` in ``dtype`` (IF-I-XL is 17 GB in float32); ``config``
    is a diffusers model's keywords or a transformers config."""
    with torch.device(device), _default_dtype(dtype):
        model = model_class(**config) if isinstance(config, dict) else model_class(config)  # diffusers | transformers
    return frozen(model, device)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_prior(architecture: Architecture, device: torch.device, dtype: torch.dtype) -> BuiltPrior:
    """The engine's own prior class around networks of ``architecture`` with random weights (no text encoders)."""
    unet = built(UNet2DConditionModel, architecture.unet, device, dtype)
    scheduler = DDPMScheduler(**architecture.scheduler)
    if architecture.prior == StableDiffusionPrior.name and architecture.vae is not None:
        vae = built(AutoencoderKL, architecture.vae, device, dtype)
        prior: LearnedPrior = StableDiffusionPrior(unet, vae, scheduler, None, None, device)
        return BuiltPrior(architecture, prior, {"unet": _count(unet), "vae": _count(vae)})
    if architecture.prior == DeepFloydIFPrior.name:
        return BuiltPrior(architecture, DeepFloydIFPrior(unet, scheduler, None, None, device), {"unet": _count(unet)})
    raise ValueError(f"no builder for the {architecture.prior} prior (or its VAE config is missing)")
