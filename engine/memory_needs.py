"""How much device memory the learned priors' weights take, for ``doctor`` to set beside what a device has.

Parameter counts of the default checkpoints' networks, counted on their public configs (tests/engine/
test_memory_needs.py rebuilds them from bench/architectures.py and checks these numbers). Weights are a floor,
not the peak: a step's activations come on top, and each run reports the peak it measured (``done``'s
peak_memory). Standard library only: the doctor runs where torch may be missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .payloads import MemoryNeed


@dataclass(frozen=True)
class PriorNetworks:
    """A learned prior's default checkpoint: its text encoder and the networks every step uses."""

    prior: str
    model: str
    text_encoder: int  # parameters
    step_networks: int  # parameters of the UNet (and the VAE of latent models)


PRIOR_NETWORKS = (
    # UNet 865,910,724 + VAE 83,653,863; OpenCLIP ViT-H text encoder 340,387,840
    PriorNetworks("stable-diffusion", "stabilityai/stable-diffusion-2-1-base", 340_387_840, 949_564_587),
    # UNet 4,304,695,110; T5 v1.1 XXL encoder 4,762,310,656
    PriorNetworks("deepfloyd-if", "DeepFloyd/IF-I-XL-v1.0", 4_762_310_656, 4_304_695_110),
)
DTYPE_BYTES = {"float16": 2, "float32": 4}


def memory_needs(dtype: str, free_bytes: int | None) -> list[MemoryNeed]:
    """Each learned prior's weights in ``dtype`` (the precision it would run in on the device checked): all
    networks at once, and the most at once in low-memory mode (the text encoder is freed before the step
    networks move to the device)."""
    size = DTYPE_BYTES[dtype]
    return [
        MemoryNeed(
            prior=networks.prior,
            model=networks.model,
            dtype=dtype,
            weights_bytes=size * (networks.text_encoder + networks.step_networks),
            low_memory_weights_bytes=size * max(networks.text_encoder, networks.step_networks),
            free_bytes=free_bytes,
        )
        for networks in PRIOR_NETWORKS
    ]
