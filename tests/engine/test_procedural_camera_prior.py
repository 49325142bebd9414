"""The camera-conditioned procedural prior (the default) and the baked scenes it renders.

Its noise prediction is checked against the formula evaluated one image at a time: the data are the prompt's scene
rendered at the query's own camera, under each of its lights, in the query's mode, over the query's background;
guidance is against the negative prompt's scene from the same camera. The baked renders are checked against the
analytic ray marcher.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import pytest
import torch

from engine.cameras import orbit_cameras, sample_cameras
from engine.config import CameraConfig, ShadingConfig
from engine.errors import PriorError
from engine.guidance.oracle import OraclePrior
from engine.guidance.procedural_camera import PIXEL_SAMPLES, UNCONDITIONAL_LIGHTS, CameraProceduralPrior
from engine.procedural.baked_scene import BakedScene
from engine.procedural.prompt import parse_prompt
from engine.procedural.raymarch import render as analytic_render
from engine.procedural.scene import Scene
from engine.prompts import ViewContext
from engine.shading import ShadingMode

PROMPT = "a red cube"
NEGATIVE = "a blue sphere"
RESOLUTION = 16
LIGHTS = 3


def _posterior_eps(noisy: torch.Tensor, images: list[torch.Tensor], alpha: float, sigma: float) -> torch.Tensor:
    """eps_hat = (z - alpha E[x | z]) / sigma for equally likely ``images``, one image at a time, in float64."""
    z = noisy.double()
    logits = [-float(((z - alpha * x.double()) ** 2).sum()) / (2 * sigma**2) for x in images]
    top = max(logits)
    weights = [math.exp(value - top) for value in logits]
    x0 = sum(w * x.double() for w, x in zip(weights, images, strict=True)) / sum(weights)
    return (z - alpha * x0) / sigma


def _renders(scene: BakedScene, view: ViewContext, lights: torch.Tensor) -> list[torch.Tensor]:
    """The scene as ``view`` saw it under each light, one render per light, in the model's [-1, 1]."""
    assert view.camera is not None and view.background is not None
    shading = ShadingConfig()
    camera, mode, background = view.camera, view.mode, view.background
    renders = [
        scene.render(camera, RESOLUTION, mode, light[None], shading, background, PIXEL_SAMPLES) for light in lights
    ]
    return [2.0 * render[0].flatten() - 1.0 for render in renders]


@functools.cache
def baked(prompt: str) -> BakedScene:
    """Each scene baked once for the module (a bake is a few seconds)."""
    return BakedScene.bake(Scene(parse_prompt(prompt)))


@functools.cache
def camera_prior(render_light: bool) -> CameraProceduralPrior:
    """The prior for ``PROMPT`` against ``NEGATIVE``, with or without the render's own light among its data's."""
    prior = CameraProceduralPrior(
        RESOLUTION, LIGHTS, CameraConfig(), ShadingConfig(), torch.device("cpu"), render_light=render_light
    )
    prior.set_prompt(PROMPT, NEGATIVE, ())
    return prior


@pytest.fixture(scope="module")
def prior() -> CameraProceduralPrior:
    return camera_prior(render_light=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "t", "scale", "render_light"),
    [
        (ShadingMode.COLORED, 600, 1.0, True),
        (ShadingMode.TEXTURELESS, 250, 3.0, True),
        (ShadingMode.COLORED, 600, 1.0, False),
    ],
)
def test_noise_prediction_is_the_posterior_of_the_scene_seen_from_the_query_camera(
    mode, t, scale, render_light
) -> None:
    prior = camera_prior(render_light)
    generator = torch.Generator().manual_seed(3)
    camera = sample_cameras(CameraConfig(), 1, generator)
    view = ViewContext("", mode, float(camera.azimuth[0]), float(camera.elevation[0]), camera, torch.rand(3))
    lights = prior.lights(camera.position[0])
    if render_light:
        lights = torch.cat([camera.light, lights])  # the render's own first, then the prior's
    conditional = _renders(baked(PROMPT), view, lights)
    alphabar = float(prior.alphas_cumprod[t])
    alpha, sigma = math.sqrt(alphabar), math.sqrt(1.0 - alphabar)
    noisy = (alpha * conditional[1] + sigma * torch.randn(conditional[1].shape, generator=generator)).view(
        1, 3, RESOLUTION, RESOLUTION
    )
    expected = _posterior_eps(noisy.flatten(), conditional, alpha, sigma)
    if scale != 1.0:
        uncond = _posterior_eps(
            noisy.flatten(), _renders(baked(NEGATIVE), view, lights[:UNCONDITIONAL_LIGHTS]), alpha, sigma
        )
        expected = uncond + scale * (expected - uncond)
    eps = prior.predict_noise(noisy, torch.tensor([t]), [view], scale)
    torch.testing.assert_close(eps.flatten().double(), expected, atol=2e-4, rtol=1e-4)


@pytest.mark.slow
def test_the_oracle_recovers_the_noise_added_to_the_true_render() -> None:
    oracle = OraclePrior(RESOLUTION, LIGHTS, CameraConfig(), ShadingConfig(), torch.device("cpu"))
    oracle.set_prompt(PROMPT, "", ())
    generator = torch.Generator().manual_seed(5)
    camera = sample_cameras(CameraConfig(), 1, generator)
    view = ViewContext("", ShadingMode.COLORED, 0.0, 0.0, camera, torch.rand(3, generator=generator))
    (truth,) = _renders(baked(PROMPT), view, camera.light)  # under the render's own light
    alphabar = float(oracle.alphas_cumprod[400])
    noise = torch.randn(truth.shape, generator=generator)
    noisy = (math.sqrt(alphabar) * truth + math.sqrt(1 - alphabar) * noise).view(1, 3, RESOLUTION, RESOLUTION)
    eps = oracle.predict_noise(noisy, torch.tensor([400]), [view], 100.0)
    torch.testing.assert_close(eps.flatten(), noise, atol=1e-4, rtol=0)


@pytest.mark.parametrize("t", [20, 100])
def test_with_the_render_light_low_noise_snaps_to_the_true_render(t) -> None:
    """The data hold the render under its own light, so a lightly noised truth is denoised to itself, as the
    oracle does; without it the nearest data image is lit from elsewhere and the prediction is off."""
    generator = torch.Generator().manual_seed(7)
    camera = sample_cameras(CameraConfig(), 1, generator)
    view = ViewContext("", ShadingMode.COLORED, 0.0, 0.0, camera, torch.rand(3, generator=generator))
    (truth,) = _renders(baked(PROMPT), view, camera.light)
    alphabar = float(camera_prior(True).alphas_cumprod[t])
    noise = torch.randn(truth.shape, generator=generator)
    noisy = (math.sqrt(alphabar) * truth + math.sqrt(1 - alphabar) * noise).view(1, 3, RESOLUTION, RESOLUTION)

    def error(render_light: bool) -> float:
        eps = camera_prior(render_light).predict_noise(noisy, torch.tensor([t]), [view], 1.0)
        return float((eps.flatten() - noise).abs().mean())

    assert error(True) < 1e-3
    assert error(False) > 0.05


def test_lights_follow_the_camera_at_the_trainers_distances(prior) -> None:
    config = CameraConfig()
    position = torch.tensor([0.0, -3.0, 1.0])
    lights = prior.lights(position)
    assert lights.shape == (LIGHTS, 3)
    low, high = config.light_distance_range
    assert ((lights.norm(dim=-1) >= low - 1e-5) & (lights.norm(dim=-1) <= high + 1e-5)).all()
    cosine = (lights / lights.norm(dim=-1, keepdim=True)) @ (position / position.norm())
    assert (cosine > 0.5).all()  # on the camera's side of the object, as the trainer draws them


def test_a_view_without_its_camera_is_refused_with_a_sentence(prior) -> None:
    view = ViewContext("front", ShadingMode.COLORED, 0.0, 0.0)
    with pytest.raises(PriorError, match="camera and background"):
        prior.predict_noise(torch.zeros(1, 3, RESOLUTION, RESOLUTION), torch.tensor([500]), [view], 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [ShadingMode.COLORED, ShadingMode.TEXTURELESS])
@pytest.mark.parametrize("shadows", [False, True])  # with them, the cube shades the top of the sphere
def test_baked_renders_match_the_analytic_ray_marcher(mode, shadows) -> None:
    prompt = "a red cube on top of a blue sphere"
    shading = ShadingConfig(background=(0.3, 0.5, 0.7), shadows=shadows)
    cameras = orbit_cameras(CameraConfig(), [30.0])
    light = torch.tensor([[1.5, -2.5, 2.0]])
    cameras = dataclasses.replace(cameras, light=light)
    truth = analytic_render(Scene(parse_prompt(prompt)), cameras, 32, (mode,), shading)[mode][0]
    fast = baked(prompt).render(cameras, 32, mode, light, shading, torch.tensor(shading.background))[0]
    difference = (fast - truth).abs()
    assert difference.mean() < 0.004  # measured about 0.001: well under one 8-bit level on average
    assert (difference > 0.1).float().mean() < 0.01  # only edge pixels differ visibly
