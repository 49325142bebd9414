"""The priors the add-on offers are the engine's own registry entries: what the panel shows, and what each does."""

from __future__ import annotations

import pytest
from dreamfusion.bridge.choices import (
    PRIORS,
    guidance_defaults_text,
    is_learned,
    prior_enum_items,
    prior_icon,
    prior_label,
)

from engine.config import GuidanceConfig
from engine.registry import PRIORS as ENGINE_PRIORS
from engine.registry import resolve


def test_the_menu_is_the_registrys_blender_priors_in_its_order() -> None:
    # the order numbers the EnumProperty items, which saved files keep: a new prior goes after these
    assert [prior.name for prior in PRIORS] == ["procedural", "stable-diffusion", "deepfloyd-if"]
    assert all(ENGINE_PRIORS[prior.name] is prior for prior in PRIORS)
    assert prior_enum_items() == [
        ("procedural", "Procedural (offline)", "The built-in prior: no download, runs on any CPU"),
        ("stable-diffusion", "Stable Diffusion", "A local Stable Diffusion 1.x/2.x diffusers model"),
        ("deepfloyd-if", "DeepFloyd IF", "A local DeepFloyd IF stage I diffusers model"),
    ]
    assert guidance_defaults_text() == "Procedural (offline) 1, Stable Diffusion 101, DeepFloyd IF 21"
    assert prior_icon("procedural") == "MESH_ICOSPHERE" and prior_icon("oracle") == "QUESTION"


def test_labels_and_which_priors_are_learned() -> None:
    assert prior_label("stable-diffusion") == "Stable Diffusion" and prior_label("something-new") == "something-new"
    assert prior_label("oracle") == "Oracle (offline)"  # a run of a prior the menu does not offer, in the history
    assert [prior.name for prior in PRIORS if is_learned(prior.name)] == ["stable-diffusion", "deepfloyd-if"]
    assert not is_learned("unknown") and not is_learned("oracle")


@pytest.mark.slow  # imports every prior, diffusers included
@pytest.mark.parametrize("name", list(ENGINE_PRIORS))
def test_each_prior_class_reads_its_defaults_from_its_own_entry(name: str) -> None:
    prior_class = resolve(ENGINE_PRIORS, name, "prior")
    assert prior_class.name == name and prior_class.registered() is ENGINE_PRIORS[name]
    assert prior_class.guidance_scale_of(GuidanceConfig()) == ENGINE_PRIORS[name].default_guidance_scale
    assert prior_class.guidance_scale_of(GuidanceConfig(guidance_scale=7.5)) == 7.5
    assert prior_class.has_low_memory_mode == ENGINE_PRIORS[name].learned  # what the panel's Low Memory offers
