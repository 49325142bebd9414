"""Perp-Neg on the tiny Stable Diffusion checkpoint, against the formula written out here with diffusers' own
prompt encoding and UNet calls: eps_u + s (d_pos + sum_i w_i perp(d_i, d_pos))."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from diffusers import StableDiffusionPipeline

from engine.config import PerpNegConfig
from engine.errors import PriorError
from engine.guidance.perp_neg import perp_neg_view
from engine.guidance.stable_diffusion import StableDiffusionPrior
from engine.prompts import ViewContext
from engine.shading import ShadingMode
from tests.fixtures.prior_checks import run_config_for

CPU = torch.device("cpu")
PROMPT, NEGATIVE = "a red cube", "blurry"
SUFFIXES = ("front", "side", "back", "overhead")


def _weights(azimuth: float) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """The published schedule (negative weight -2, decays 2 and 10), written out for azimuths in [0, 180]."""
    if azimuth < 90:
        r = 1 - azimuth / 90
        front = 0.0 if r > 0.8 else -2 * math.exp(-2 * r)
        side = 0.0 if r < 0.2 else -2 * math.exp(-10 * (1 - r))
        return {"front": r, "side": 1 - r}, [("front", front), ("side", side)]
    r = 1 - (azimuth - 90) / 90
    side = 0.0 if r > 0.8 else -math.exp(-10 * r)
    return {"side": r, "back": 1 - r}, [("side", side), ("front", -2.0)]


@pytest.mark.parametrize("azimuth", [0.0, 30.0, -60.0, 90.0, 135.0, 180.0])
def test_the_view_schedule_is_the_published_one(azimuth: float) -> None:
    plan = perp_neg_view(azimuth, PerpNegConfig())
    positive, negatives = _weights(abs(azimuth))
    assert dict(plan.positive) == pytest.approx(positive)
    assert [name for name, _ in plan.negatives] == [name for name, _ in negatives]
    assert [w for _, w in plan.negatives] == pytest.approx([w for _, w in negatives])


def test_perp_neg_needs_the_view_prompts(tiny_stable_diffusion: Path) -> None:
    run = run_config_for(str(tiny_stable_diffusion))
    run.guidance.perp_neg.enabled, run.guidance.view_dependent_prompts = True, False
    with pytest.raises(PriorError, match=r"guidance\.perp_neg mixes the front, side and back view prompts"):
        StableDiffusionPrior.check_run_config(run)


@pytest.mark.slow
def test_guided_noise_follows_the_formula(tiny_stable_diffusion: Path) -> None:
    run = run_config_for(str(tiny_stable_diffusion))
    run.guidance.perp_neg.enabled = True
    prior = StableDiffusionPrior.from_run_config(run, CPU, None)
    prior.set_prompt(PROMPT, NEGATIVE, SUFFIXES)
    azimuths = [30.0, 150.0]
    noisy = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([600, 200])
    scale = 7.5
    views = [ViewContext("side", ShadingMode.COLORED, az, 10.0) for az in azimuths]
    eps = prior.predict_noise(noisy, t, views, scale)

    pipeline = StableDiffusionPipeline.from_pretrained(tiny_stable_diffusion, safety_checker=None)
    with torch.no_grad():
        embedded = {s: pipeline.encode_prompt(f"{PROMPT}, {s} view", CPU, 1, False)[0] for s in SUFFIXES}
        uncond = pipeline.encode_prompt(NEGATIVE, CPU, 1, False)[0]
        expected = []
        for azimuth, sample, step in zip(azimuths, noisy, t, strict=True):
            positive, negatives = _weights(azimuth)

            def unet(embedding: torch.Tensor, sample: torch.Tensor = sample, step: torch.Tensor = step) -> torch.Tensor:
                return pipeline.unet(sample[None], step, encoder_hidden_states=embedding).sample

            eps_u = unet(uncond)
            d_pos = unet(sum(share * embedded[s] for s, share in positive.items())) - eps_u
            total = d_pos.clone()
            for suffix, weight in negatives:
                d = unet(embedded[suffix]) - eps_u
                total += weight * (d - (d * d_pos).sum() / (d_pos * d_pos).sum() * d_pos)
            expected.append(eps_u + scale * total)
    torch.testing.assert_close(eps, torch.cat(expected), rtol=1e-4, atol=1e-5 * (1 + scale))
    plain = StableDiffusionPrior.from_run_config(run_config_for(str(tiny_stable_diffusion)), CPU, None)
    plain.set_prompt(PROMPT, NEGATIVE, SUFFIXES)
    assert not torch.allclose(plain.predict_noise(noisy, t, views, scale), eps)  # the switch changes the guidance
