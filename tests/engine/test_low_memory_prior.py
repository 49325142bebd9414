"""The learned priors' low-memory mode (guidance.low_memory) on tiny real checkpoints: the same SDS gradient, and
the text encoder gone before the step networks reach the device.

torch's ``meta`` device stands in for a GPU: the networks really move there (their parameters report it), so
where each one sits at each moment is read off the real modules.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest
import torch

from engine.config import GuidanceConfig
from engine.device import out_of_memory_error
from engine.guidance.deepfloyd_if import DeepFloydIFPrior
from engine.guidance.learned_prior import LearnedPrior
from engine.guidance.sds import ScoreDistillation
from engine.guidance.stable_diffusion import StableDiffusionPrior
from tests.fixtures.prior_checks import run_config_for, views

CPU, META = torch.device("cpu"), torch.device("meta")
PRIORS = {"stable-diffusion": StableDiffusionPrior, "deepfloyd-if": DeepFloydIFPrior}


def load(name: str, folder: Path, device: torch.device, low_memory: bool) -> LearnedPrior:
    run = run_config_for(str(folder))
    run.guidance.low_memory = low_memory
    return PRIORS[name].from_run_config(run, device, None)


def folder_of(name: str, request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue("tiny_stable_diffusion" if name == "stable-diffusion" else "tiny_deepfloyd_if")


def sds_gradient(prior: LearnedPrior) -> torch.Tensor:
    """d(SDS loss)/d(render) for a fixed batch of two renders, noise and timesteps."""
    prior.set_prompt("a red cube", "blurry", ("front", "side"))
    prior.release_text_encoder()
    render = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    step = ScoreDistillation(prior, GuidanceConfig())(
        render, views("front", "side"), 0.5, torch.Generator().manual_seed(1)
    )
    step.loss.backward()
    assert render.grad is not None
    return render.grad


def device_of(module: torch.nn.Module) -> torch.device:
    (device,) = {p.device for p in module.parameters()}
    return device


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PRIORS))
def test_low_memory_gives_the_same_sds_gradient(name: str, request: pytest.FixtureRequest) -> None:
    folder = folder_of(name, request)
    usual, low = load(name, folder, CPU, False), load(name, folder, CPU, True)
    processors = {type(p).__name__ for p in low.unet.attn_processors.values()}
    assert all(kind.startswith("Sliced") for kind in processors), "attention is computed a slice at a time"
    assert not any(type(p).__name__.startswith("Sliced") for p in usual.unet.attn_processors.values())
    expected, got = sds_gradient(usual), sds_gradient(low)
    assert expected.abs().max() > 0
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))


def test_stable_diffusion_parks_its_networks_until_the_text_encoder_is_gone(tiny_stable_diffusion: Path) -> None:
    prior = load("stable-diffusion", tiny_stable_diffusion, META, True)
    encoder = prior._text_encoder
    assert device_of(encoder) == META
    assert device_of(prior.unet) == CPU and device_of(prior.vae) == CPU, "not on the device with the text encoder"
    gone = weakref.ref(encoder)
    del encoder
    prior.set_prompt("a red cube", "", ("front",))  # the text encoder really runs on the device
    prior.release_text_encoder()
    assert gone() is None, "the text encoder is freed, not only forgotten by the prior"
    assert device_of(prior.unet) == META and device_of(prior.vae) == META
    eps = prior.predict_noise(torch.zeros(1, 4, 8, 8, device=META), torch.tensor([10]), views("front"), 100.0)
    assert eps.device == META and eps.shape == (1, 4, 8, 8)


def test_usual_mode_loads_everything_onto_the_device_at_once(tiny_stable_diffusion: Path) -> None:
    prior = load("stable-diffusion", tiny_stable_diffusion, META, False)
    assert {device_of(prior._text_encoder), device_of(prior.unet), device_of(prior.vae)} == {META}


def test_deepfloyd_if_never_holds_t5_and_the_unet_on_the_device_together(tiny_deepfloyd_if: Path) -> None:
    prior = load("deepfloyd-if", tiny_deepfloyd_if, META, True)
    gone = weakref.ref(prior._text_encoder)
    assert device_of(prior._text_encoder) == META and device_of(prior.unet) == CPU
    prior.release_text_encoder()
    assert gone() is None and device_of(prior.unet) == META


def test_out_of_memory_names_the_low_memory_switch_where_it_helps(tmp_path: Path) -> None:
    cuda = torch.device("cuda")
    message = str(out_of_memory_error(cuda, tmp_path, low_memory_helps=True))
    assert f"--resume {tmp_path} --low-memory" in message
    assert "--low-memory" not in str(out_of_memory_error(cuda, tmp_path, low_memory_helps=False))
