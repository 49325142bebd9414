"""The procedural prior as a diffusion model: its denoiser against a brute-force evaluation of the formula,
like-with-like image sets, caching, and SDS on a single image reaching the prompted scene."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

from engine.config import RunConfig, check
from engine.config_schema import ConfigError
from engine.errors import PriorError
from engine.guidance.procedural_text import TextProceduralPrior
from engine.procedural.denoiser import ClosedFormDenoiser
from engine.procedural.image_set import MODES, ImageSet
from engine.prompts import ViewContext, view_suffix
from engine.shading import ShadingMode

PROMPT = "a red cube on top of a blue sphere"


def _brute_force_eps(noisy: torch.Tensor, images: torch.Tensor, log_weights: list[float], alpha: float, sigma: float):
    """The issue's formula, one image at a time, in float64."""
    z = noisy.double()
    logits = [
        lw - float(((z - alpha * x.double()) ** 2).sum()) / (2 * sigma**2)
        for x, lw in zip(images, log_weights, strict=True)
    ]
    top = max(logits)
    weights = [math.exp(v - top) for v in logits]
    x0 = sum(w * x.double() for w, x in zip(weights, images, strict=True)) / sum(weights)
    return (z - alpha * x0) / sigma


@pytest.mark.parametrize("t_fraction", [0.02, 0.3, 0.7, 0.98])
def test_closed_form_denoiser_equals_brute_force(t_fraction):
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(9, 48, generator=generator) * 2 - 1
    alphabar = 1.0 - t_fraction
    alpha, sigma = math.sqrt(alphabar), math.sqrt(1 - alphabar)
    noisy = alpha * images[4] + sigma * torch.randn(48, generator=generator)
    log_weights = [0.0, -math.inf, -0.5, 0.0, -2.0, -math.inf, 0.0, -1.0, 0.0]
    expected = _brute_force_eps(noisy, images, log_weights, alpha, sigma)
    norms = images.square().sum(-1)
    denoiser = ClosedFormDenoiser(images, norms, torch.tensor(log_weights))
    eps = denoiser.eps(noisy, alpha, sigma)
    assert torch.allclose(eps.double(), expected, atol=1e-4, rtol=1e-4)
    x0 = denoiser.x0(noisy, alpha, sigma)
    assert torch.allclose((noisy - alpha * x0) / sigma, eps)


def _small_run(selection: str = "suffix", guidance_scale: float = 1.0) -> RunConfig:
    """At guidance scale 1 (not the prior's default) a prior builds its unconditional set only when used."""
    run = RunConfig(prompt=PROMPT)
    run.guidance.guidance_scale = guidance_scale
    run.render.resolution = 16
    run.guidance.procedural_text.views = 24
    run.guidance.procedural_text.view_selection = selection
    run.guidance.procedural_text.view_width_deg = 25.0
    return run


@pytest.fixture
def prior(tmp_path) -> TextProceduralPrior:
    prior = TextProceduralPrior.from_run_config(_small_run(), torch.device("cpu"), tmp_path)
    prior.set_prompt(PROMPT, "", ("front", "side", "back", "overhead"))
    return prior


def _x(image_set: ImageSet, mode: ShadingMode) -> torch.Tensor:
    return 2 * image_set.of_mode(mode).flatten(1) - 1


@pytest.mark.slow
def test_prior_noise_prediction_equals_brute_force_over_its_image_sets(prior):
    run = _small_run()
    conditional, unconditional = prior.conditional_set, prior.unconditional_set
    views = [
        ViewContext("front", ShadingMode.COLORED, 10.0, 20.0),
        ViewContext("side", ShadingMode.TEXTURELESS, -100.0, 5.0),
        ViewContext("back", ShadingMode.AMBIENT, 170.0, 30.0),
        ViewContext("", ShadingMode.COLORED, 0.0, 0.0),
    ]
    t = torch.tensor([50, 300, 600, 900])
    generator = torch.Generator().manual_seed(1)
    clean = torch.stack([conditional.of_mode(v.mode)[i] for i, v in enumerate(views)]) * 2 - 1
    alphabar = prior.alphas_cumprod[t].view(-1, 1, 1, 1)
    noisy = alphabar.sqrt() * clean + (1 - alphabar).sqrt() * torch.randn(clean.shape, generator=generator)
    scale = 7.5
    eps = prior.predict_noise(noisy, t, views, scale)

    suffixes = [view_suffix(a, e, run.camera) for a, e in zip(conditional.azimuth, conditional.elevation, strict=True)]
    for index, view in enumerate(views):
        a, s = float(alphabar[index].sqrt()), float((1 - alphabar[index]).sqrt())
        cond_log_weights = [0.0 if not view.suffix or sfx == view.suffix else -math.inf for sfx in suffixes]
        assert cond_log_weights.count(0.0) > 0  # the view narrows to a non-empty set
        z = noisy[index].flatten()
        cond = _brute_force_eps(z, _x(conditional, view.mode), cond_log_weights, a, s)
        uncond_images = _x(unconditional, view.mode)
        uncond = _brute_force_eps(z, uncond_images, [0.0] * len(uncond_images), a, s)
        expected = uncond + scale * (cond - uncond)
        assert torch.allclose(eps[index].flatten().double(), expected, atol=2e-3, rtol=1e-4), view


def test_kernel_view_selection_weights_images_by_camera_angle(tmp_path):
    prior = TextProceduralPrior.from_run_config(_small_run("kernel"), torch.device("cpu"), tmp_path)
    prior.set_prompt(PROMPT, "", ())
    conditional = prior.conditional_set
    view = ViewContext("front", ShadingMode.COLORED, 30.0, 10.0)
    query = torch.tensor(
        [
            math.sin(math.radians(30)) * math.cos(math.radians(10)),
            -math.cos(math.radians(30)) * math.cos(math.radians(10)),
            math.sin(math.radians(10)),
        ]
    )
    log_weights = []
    for az, el in zip(conditional.azimuth.tolist(), conditional.elevation.tolist(), strict=True):
        d = torch.tensor(
            [
                math.sin(math.radians(az)) * math.cos(math.radians(el)),
                -math.cos(math.radians(az)) * math.cos(math.radians(el)),
                math.sin(math.radians(el)),
            ]
        )
        angle = math.degrees(math.acos(max(-1.0, min(1.0, float(d @ query)))))
        log_weights.append(-0.5 * (angle / 25.0) ** 2)
    t = torch.tensor([400])
    alphabar = float(prior.alphas_cumprod[t])
    x = _x(conditional, view.mode)
    noisy = (math.sqrt(alphabar) * x[3] + math.sqrt(1 - alphabar) * torch.randn(x.shape[1])).view(1, 3, 16, 16)
    eps = prior.predict_noise(noisy, t, [view], 1.0)
    expected = _brute_force_eps(noisy.flatten(), x, log_weights, math.sqrt(alphabar), math.sqrt(1 - alphabar))
    assert torch.allclose(eps.flatten().double(), expected, atol=2e-3, rtol=1e-4)


def test_each_shading_mode_is_answered_from_images_of_that_mode(prior):
    """At low noise the prediction is the nearest image of the render's own mode, never another mode's."""
    conditional = prior.conditional_set
    t = torch.tensor([20])
    alphabar = prior.alphas_cumprod[t]
    for mode in MODES:
        view = ViewContext("", mode, 0.0, 0.0)
        for source in MODES:
            clean = conditional.of_mode(source)[5:6] * 2 - 1
            noisy = alphabar.sqrt() * clean
            eps = prior.predict_noise(noisy, t, [view], 1.0)
            x0 = (noisy - (1 - alphabar).sqrt() * eps) / alphabar.sqrt()
            nearest = (_x(conditional, mode) - x0.flatten()).square().sum(-1).min()
            assert nearest < 1e-6, (mode, source)


@pytest.mark.slow
def test_image_sets_are_cached_on_disk_and_rebuilt_when_corrupt(prior, tmp_path):
    assert len(list((tmp_path / "procedural").glob("*.safetensors"))) == 1  # the prompt's set
    prior.predict_noise(torch.zeros(1, 3, 16, 16), torch.tensor([10]), [ViewContext("", MODES[0], 0, 0)], 1.0)
    assert len(list((tmp_path / "procedural").glob("*.safetensors"))) == 1  # scale 1 needs no unconditional set
    prior.predict_noise(torch.zeros(1, 3, 16, 16), torch.tensor([10]), [ViewContext("", MODES[0], 0, 0)], 2.0)
    files = sorted((tmp_path / "procedural").glob("*.safetensors"))
    assert len(files) == 2  # now also the unconditional set
    again = TextProceduralPrior.from_run_config(_small_run(), torch.device("cpu"), tmp_path)
    again.set_prompt("A red cube on top of the blue sphere", "", ())  # the same scene, spelled differently
    assert sorted((tmp_path / "procedural").glob("*.safetensors")) == files
    assert torch.equal(again.conditional_set.images, prior.conditional_set.images)

    for f in files:
        f.write_bytes(b"not a safetensors file")
    rebuilt = TextProceduralPrior.from_run_config(_small_run(), torch.device("cpu"), tmp_path)
    rebuilt.set_prompt(PROMPT, "", ())
    assert torch.equal(rebuilt.conditional_set.images, prior.conditional_set.images)
    assert torch.equal(rebuilt.unconditional_set.images, prior.unconditional_set.images)
    for f in files:
        assert load_file(f)["images"].dtype == torch.uint8  # rewritten whole


def test_changed_settings_get_their_own_cache_entry(prior, tmp_path):
    run = _small_run()
    run.shading.background = (1.0, 1.0, 1.0)
    other = TextProceduralPrior.from_run_config(run, torch.device("cpu"), tmp_path)
    other.set_prompt(PROMPT, "", ())
    assert len(list((tmp_path / "procedural").glob("*.safetensors"))) == 2
    corner = other.conditional_set.images[..., 0, 0]
    assert torch.all(corner == 1.0)  # the new background, not the cached gray


def test_negative_prompt_becomes_the_unconditional_set(tmp_path):
    prior = TextProceduralPrior.from_run_config(_small_run(), torch.device("cpu"), tmp_path)
    prior.set_prompt(PROMPT, "a green torus", ())
    other = TextProceduralPrior.from_run_config(_small_run(), torch.device("cpu"), tmp_path)
    other.set_prompt("a green torus", "", ())
    assert torch.equal(prior.unconditional_set.images, other.conditional_set.images)


def test_unknown_words_and_bad_settings_fail_clearly(tmp_path):
    prior = TextProceduralPrior.from_run_config(_small_run(), torch.device("cpu"), tmp_path)
    with pytest.raises(PriorError, match="'dragon'") as info:
        prior.set_prompt("a red dragon", "", ())
    assert info.value.kind == "prompt"
    with pytest.raises(PriorError, match="'dragn'"):
        prior.set_prompt("a red cube", "a red dragn", ())  # the negative prompt is checked up front too
    with pytest.raises(PriorError, match="'dragon'"):
        TextProceduralPrior.check_run_config(RunConfig(prompt="a red dragon"))  # before a run writes anything
    with pytest.raises(ConfigError, match="view_selection must be one of suffix, kernel"):
        check(_small_run("nearest"))  # the settings' one check (engine/config.py) refuses it before the prior


def test_renders_of_another_size_are_refused(prior):
    with pytest.raises(PriorError, match="16x16"):
        prior.predict_noise(torch.zeros(1, 3, 32, 32), torch.tensor([10]), [ViewContext("", MODES[0], 0, 0)], 1.0)


@pytest.mark.slow
def test_sds_on_a_single_image_reaches_an_image_of_the_prompted_scene(prior):
    """The 2D check of SDS: optimize pixels with w(t) (eps_hat - eps) from the empty background."""
    view = ViewContext("front", ShadingMode.COLORED, 5.0, 15.0)
    generator = torch.Generator().manual_seed(0)
    logits = torch.full((1, 3, 16, 16), math.log(0.8 / 0.2), requires_grad=True)
    optimizer = torch.optim.Adam([logits], lr=0.05)
    for _ in range(300):
        x = prior.encode(torch.sigmoid(logits))
        t = torch.randint(20, 981, (1,), generator=generator)
        alphabar = prior.alphas_cumprod[t]
        noise = torch.randn(x.shape, generator=generator)
        with torch.no_grad():
            eps = prior.predict_noise(alphabar.sqrt() * x + (1 - alphabar).sqrt() * noise, t, [view], 1.0)
        optimizer.zero_grad()
        x.backward((1 - alphabar) * (eps - noise))
        optimizer.step()
    x = prior.encode(torch.sigmoid(logits)).detach().flatten()
    prompted = _x(prior.conditional_set, view.mode)
    others = _x(prior.unconditional_set, view.mode)
    to_prompted = (prompted - x).square().mean(-1).min()
    assert to_prompted < 0.01  # close to one of the prompt's renders (mean squared error in [-1, 1])
    assert to_prompted < (others - x).square().mean(-1).min() / 5


def test_a_run_that_guides_builds_both_sets_in_set_prompt_reporting_its_progress(tmp_path):
    prior = TextProceduralPrior.from_run_config(_small_run(guidance_scale=2.0), torch.device("cpu"), tmp_path)
    reported: list[float] = []
    prior.set_prompt(PROMPT, "", (), reported.append)
    assert len(list((tmp_path / "procedural").glob("*.safetensors"))) == 2  # the prompt's and the unconditional
    assert reported[0] == 0.0 and reported[-1] == 1.0 and reported == sorted(reported)
    assert 0.5 in reported  # the prompt's set is half of the work


@pytest.mark.slow
def test_a_stop_during_a_build_leaves_whole_sets_only_and_the_next_build_finishes_them(tmp_path):
    class Stop(Exception):
        pass

    def stop_in_the_unconditional_set(fraction: float) -> None:
        if fraction > 0.5:
            raise Stop

    run = _small_run(guidance_scale=2.0)
    run.guidance.procedural_text.views = 16  # one view of each of the 16 unconditional scenes: 16 chunks
    stopped = TextProceduralPrior.from_run_config(run, torch.device("cpu"), tmp_path)
    with pytest.raises(Stop):
        stopped.set_prompt(PROMPT, "", (), stop_in_the_unconditional_set)
    cache = tmp_path / "procedural"
    (prompt_set,) = cache.iterdir()  # the prompt's set, complete; no partial of the other
    written = prompt_set.stat().st_mtime_ns

    finished = TextProceduralPrior.from_run_config(run, torch.device("cpu"), tmp_path)
    finished.set_prompt(PROMPT, "", ())
    assert prompt_set.stat().st_mtime_ns == written  # reused
    fresh = TextProceduralPrior.from_run_config(run, torch.device("cpu"), tmp_path / "fresh")
    fresh.set_prompt(PROMPT, "", ())
    assert torch.equal(finished.unconditional_set.images, fresh.unconditional_set.images)
    assert sorted(p.suffix for p in cache.iterdir()) == [".safetensors", ".safetensors"]
