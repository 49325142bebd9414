"""The priors the add-on offers say what the engine does: each one's guidance scale when none is set."""

from __future__ import annotations

import pytest
from dreamfusion.bridge.choices import PRIORS, guidance_defaults_text, is_learned, prior_label

from engine.registry import PRIORS as ENGINE_PRIORS
from engine.registry import resolve


@pytest.mark.slow  # imports every prior, diffusers included
def test_each_priors_default_guidance_is_the_engines() -> None:
    for prior in PRIORS:
        engine_prior = resolve(ENGINE_PRIORS, prior.key, "prior")
        assert prior.default_guidance_scale == engine_prior.default_guidance_scale, prior.key
    assert guidance_defaults_text() == "Procedural (offline) 1, Stable Diffusion 101, DeepFloyd IF 21"


def test_labels_and_which_priors_are_learned() -> None:
    assert prior_label("stable-diffusion") == "Stable Diffusion" and prior_label("something-new") == "something-new"
    assert [prior.key for prior in PRIORS if is_learned(prior.key)] == ["stable-diffusion", "deepfloyd-if"]
    assert not is_learned("unknown")
