"""The doctor's weight sizes: the parameter counts agree with the public configs (built on the meta device, no
memory), and the sizes follow the precision and the low-memory mode."""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from dreamfusion.bridge.doctor_summary import doctor_summary
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

from bench.architectures import DEEPFLOYD_IF_I_XL, STABLE_DIFFUSION_2_1_BASE
from engine.memory_needs import PRIOR_NETWORKS, memory_needs
from tests.bridge.doctor_reports import doctor_report


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_the_counts_are_the_public_architectures() -> None:
    networks = {n.prior: n for n in PRIOR_NETWORKS}
    sd, deepfloyd = STABLE_DIFFUSION_2_1_BASE, DEEPFLOYD_IF_I_XL
    with torch.device("meta"):
        sd_steps = parameters(UNet2DConditionModel(**sd.unet)) + parameters(AutoencoderKL(**sd.vae))
        sd_text = parameters(CLIPTextModel(CLIPTextConfig(**sd.text_encoder)))
        if_steps = parameters(UNet2DConditionModel(**deepfloyd.unet))
        if_text = parameters(T5EncoderModel(T5Config(**deepfloyd.text_encoder)))
    assert (networks[sd.prior].step_networks, networks[sd.prior].text_encoder) == (sd_steps, sd_text)
    assert (networks[deepfloyd.prior].step_networks, networks[deepfloyd.prior].text_encoder) == (if_steps, if_text)


def test_sizes_follow_precision_and_low_memory_mode() -> None:
    half = {need.prior: need for need in memory_needs("float16", 8_000_000_000)}
    full = {need.prior: need for need in memory_needs("float32", None)}
    deepfloyd = half["deepfloyd-if"]
    assert deepfloyd.weights_bytes == 2 * (4_762_310_656 + 4_304_695_110)
    assert deepfloyd.low_memory_weights_bytes == 2 * 4_762_310_656, "T5 and the UNet are never there together"
    assert deepfloyd.fits is False and half["stable-diffusion"].fits is True and full["stable-diffusion"].fits is None
    assert full["stable-diffusion"].weights_bytes == 2 * half["stable-diffusion"].weights_bytes

    lines = doctor_summary(doctor_report(memory_needs=list(half.values())))
    assert "Stable Diffusion: 2.6 GB of weights in float16 (1.9 GB at once in low-memory mode)" in lines
    assert (
        "DeepFloyd IF: 18.1 GB of weights in float16 (9.5 GB at once in low-memory mode), more than the 8.0 GB "
        "free even then"
    ) in lines
