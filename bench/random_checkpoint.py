"""A learned prior's architecture with random weights, saved as a diffusers model folder the engine loads.

The device check (``bench/device_check.py``) runs ``generate --model FOLDER`` on full-size Stable Diffusion 2.1-base
and IF-I-XL without their weights: every network (text encoder included) is built from its public config with
random weights, and the tokenizers come from an in-memory vocabulary, so nothing is downloaded. The tests' tiny
checkpoints use the same tokenizers.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDPMScheduler, IFPipeline, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel, T5Tokenizer

from engine.guidance.stable_diffusion import StableDiffusionPrior

from .architectures import Architecture, built

# The pipeline parts a prior never loads: no safety checker, feature extractor (or IF's watermarker).
_NOT_LOADED = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
TEXT_MAX_LENGTH = 77  # CLIP's context length; IF also pads T5 prompts to 77 tokens
_CHARACTERS = string.ascii_lowercase + string.digits + ",.-'"


def clip_tokenizer() -> CLIPTokenizer:
    """A byte-level BPE CLIP tokenizer whose vocabulary is single characters (each also as a word end)."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in _CHARACTERS:
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=TEXT_MAX_LENGTH)


def t5_tokenizer() -> T5Tokenizer:
    """A Unigram T5 tokenizer over single characters (T5's layout: <pad>=0, </s>=1, <unk>=2)."""
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(char, -3.0) for char in _CHARACTERS]
    pieces += [("▁" + char, -3.5) for char in string.ascii_lowercase]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


def _on_cpu(module: torch.nn.Module) -> torch.nn.Module:
    """A network built on the device, brought to the CPU for saving (safetensors writes host memory)."""
    return module.to("cpu")


def save_random_checkpoint(architecture: Architecture, folder: Path, device: torch.device, dtype: torch.dtype) -> Path:
    """``architecture`` with random weights (made on ``device`` in ``dtype``, fast even at 4.3 B parameters) saved
    in ``folder`` as diffusers' ``save_pretrained`` lays a model out; safetensors only."""
    torch.manual_seed(0)
    unet = _on_cpu(built(UNet2DConditionModel, architecture.unet, device, dtype))
    scheduler = DDPMScheduler(**architecture.scheduler)
    if architecture.prior == StableDiffusionPrior.name and architecture.vae is not None:
        tokenizer = clip_tokenizer()
        config = CLIPTextConfig(
            **architecture.text_encoder,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        pipeline = StableDiffusionPipeline(
            vae=_on_cpu(built(AutoencoderKL, architecture.vae, device, dtype)),
            text_encoder=_on_cpu(built(CLIPTextModel, config, device, dtype)),
            tokenizer=tokenizer,
            unet=unet,
            scheduler=scheduler,
            **_NOT_LOADED,
        )
    else:
        tokenizer = t5_tokenizer()
        config = T5Config(
            **architecture.text_encoder, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id
        )
        pipeline = IFPipeline(
            tokenizer=tokenizer,
            text_encoder=_on_cpu(built(T5EncoderModel, config, device, dtype)),
            unet=unet,
            scheduler=scheduler,
            watermarker=None,
            **_NOT_LOADED,
        )
    pipeline.save_pretrained(folder, safe_serialization=True)
    return folder
