"""DeepFloyd IF stage I as an SDS prior: a pixel-space model at 64x64, conditioned on T5 text.

The render is used directly (mapped to [-1, 1]); the UNet also predicts its variance in three
extra channels, which guidance ignores.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from transformers import T5EncoderModel, T5Tokenizer

from ..errors import PriorError
from .learned_prior import LearnedPrior, parked_device
from .model_loading import PartLoader, frozen

TEXT_TOKENS = 77  # IF pads and truncates prompts to 77 T5 tokens
PIXEL_CHANNELS = 3


def _load_tokenizer(load: PartLoader) -> Any:
    """The T5 tokenizer; a checkpoint that ships only spiece.model needs sentencepiece to read it."""
    source = load.source
    try:
        return load(T5Tokenizer, "tokenizer")
    except PriorError as exc:
        has_fast_file = source.is_folder and (Path(source.location) / "tokenizer" / "tokenizer.json").is_file()
        if not has_fast_file and importlib.util.find_spec("sentencepiece") is None:
            raise PriorError(
                f"could not read the T5 tokenizer of {source.label}; it is stored as a SentencePiece model, "
                "so install the sentencepiece and protobuf packages into the engine's Python"
            ) from exc
        raise


class DeepFloydIFPrior(LearnedPrior):
    """DeepFloyd IF stage I (IF-I-XL by default; the M and L sizes load the same way)."""

    name = "deepfloyd-if"
    default_model: ClassVar[str] = "DeepFloyd/IF-I-XL-v1.0"
    parts: ClassVar[tuple[str, ...]] = ("unet", "text_encoder", "tokenizer", "scheduler")

    @property
    def image_size(self) -> int:
        return int(self.unet.config.sample_size)

    @classmethod
    def load(
        cls, load: PartLoader, device: torch.device, dtype: torch.dtype, *, low_memory: bool = False
    ) -> DeepFloydIFPrior:
        unet = load(UNet2DConditionModel, "unet", dtype)
        if unet.config.in_channels != PIXEL_CHANNELS or unet.config.encoder_hid_dim is None:
            raise PriorError(
                f"{load.source.label} does not look like DeepFloyd IF stage I (its UNet does not take RGB pixels "
                "with T5 text); use --prior stable-diffusion for latent models"
            )
        return cls(
            unet=frozen(unet, parked_device(device, low_memory)),  # low-memory: T5 first, then the UNet
            scheduler=load(DDPMScheduler, "scheduler"),
            tokenizer=_load_tokenizer(load),
            text_encoder=frozen(load(T5EncoderModel, "text_encoder", dtype), device),
            device=device,
            low_memory=low_memory,
        )

    def _embed_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = self._tokenizer(
            [text.lower().strip() for text in texts],  # IF's own text preprocessing (without caption cleaning)
            padding="max_length",
            max_length=TEXT_TOKENS,
            truncation=True,
            add_special_tokens=True,
            return_tensors="pt",
        )
        hidden = self._text_encoder(
            tokens.input_ids.to(self.device), attention_mask=tokens.attention_mask.to(self.device)
        )[0]
        return hidden.to(self.dtype)

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        """Render in [0, 1] -> pixels in [-1, 1] at the model's resolution (resized only if it differs)."""
        if rgb.shape[-2:] != (self.image_size, self.image_size):
            rgb = F.interpolate(
                rgb, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True
            )
        return rgb * 2 - 1
