"""Stable Diffusion 1.x/2.x as an SDS prior: a latent model behind a VAE, conditioned on CLIP text.

The 64x64 render is upsampled to the model's image size (512 for the default
stable-diffusion-2-1-base) and encoded by the VAE; gradients flow through the encoder. In low-memory mode the
encoder runs one image at a time under activation checkpointing: its activations at 512 px are recomputed in
the backward pass instead of being held while the UNet runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from torch.utils.checkpoint import checkpoint
from transformers import CLIPTextModel, CLIPTokenizer

from ..errors import PriorError
from .learned_prior import LearnedPrior, parked_device
from .model_loading import PartLoader, frozen


class StableDiffusionPrior(LearnedPrior):
    """Any Stable Diffusion 1.x/2.x diffusers checkpoint (epsilon or v-prediction)."""

    name = "stable-diffusion"
    default_model: ClassVar[str] = "stabilityai/stable-diffusion-2-1-base"
    parts: ClassVar[tuple[str, ...]] = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")

    def __init__(
        self,
        unet: Any,
        vae: Any,
        scheduler: Any,
        tokenizer: Any,
        text_encoder: Any,
        device: torch.device,
        **options: bool,
    ) -> None:
        """``options``: LearnedPrior's keywords (low_memory)."""
        super().__init__(unet, scheduler, tokenizer, text_encoder, device, **options)
        self.vae = vae
        vae_downscale = 2 ** (len(vae.config.block_out_channels) - 1)
        self.image_size = int(unet.config.sample_size) * vae_downscale
        self.latent_scale = float(vae.config.scaling_factor)

    @classmethod
    def load(
        cls, load: PartLoader, device: torch.device, dtype: torch.dtype, *, low_memory: bool = False
    ) -> StableDiffusionPrior:
        unet = load(UNet2DConditionModel, "unet", dtype)
        vae = load(AutoencoderKL, "vae", dtype)
        if unet.config.addition_embed_type is not None or unet.config.in_channels != vae.config.latent_channels:
            raise PriorError(
                f"{load.source.label} is not a Stable Diffusion 1.x/2.x model (its UNet needs other inputs, "
                "as SDXL or inpainting models do); pass a text-to-image SD 1.x/2.x checkpoint"
            )
        parked = parked_device(device, low_memory)
        return cls(
            unet=frozen(unet, parked),
            vae=frozen(vae, parked),
            scheduler=load(DDPMScheduler, "scheduler"),
            tokenizer=load(CLIPTokenizer, "tokenizer"),
            text_encoder=frozen(load(CLIPTextModel, "text_encoder", dtype), device),
            device=device,
            low_memory=low_memory,
        )

    def step_networks(self) -> tuple[torch.nn.Module, ...]:
        return (self.unet, self.vae)

    def _embed_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = self._tokenizer(
            texts,
            padding="max_length",
            max_length=self._tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        use_mask = getattr(self._text_encoder.config, "use_attention_mask", False)
        mask = tokens.attention_mask.to(self.device) if use_mask else None
        hidden = self._text_encoder(tokens.input_ids.to(self.device), attention_mask=mask)[0]
        return hidden.to(self.dtype)

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        """Render in [0, 1] -> scaled VAE latents (posterior mean: deterministic, no RNG outside the run's)."""
        image = F.interpolate(rgb, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        pixels = (image * 2 - 1).to(self.vae.dtype)
        if not self.low_memory:
            return self._latents(pixels)
        chunks = [checkpoint(self._latents, chunk, use_reentrant=False) for chunk in pixels.split(1)]
        return torch.cat(chunks)

    def _latents(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(pixels).latent_dist.mean.float() * self.latent_scale
