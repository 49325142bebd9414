"""SDS against the formula computed independently, CFG plumbing, the t schedule and w(t)."""

from __future__ import annotations

import pytest
import torch

from engine.config import GuidanceConfig
from engine.guidance.base import DiffusionPrior
from engine.guidance.oracle import OraclePrior
from engine.guidance.procedural_camera import CameraProceduralPrior
from engine.guidance.sds import ScoreDistillation
from engine.guidance.stable_diffusion import StableDiffusionPrior
from engine.prompts import ViewContext
from engine.registry import PRIORS, PriorEntry
from engine.shading import ShadingMode


class LinearPrior(DiffusionPrior):
    """A real (if simple) prior for the test: eps_hat = A z + b t, CFG over two conditionings."""

    name = "linear"
    num_train_timesteps = 1000

    def __init__(self) -> None:
        betas = torch.linspace(1e-4, 0.02, 1000)
        self._alphas = torch.cumprod(1 - betas, dim=0)
        self.calls: list[torch.Tensor] = []

    @classmethod
    def from_run_config(cls, run, device, cache_dir, progress=None):  # type: ignore[no-untyped-def]
        return cls()

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self._alphas

    def set_prompt(self, prompt: str, negative_prompt: str, suffixes: tuple[str, ...], progress: object = None) -> None:
        pass

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        return 2 * rgb - 1

    def raw(self, noisy: torch.Tensor, t: torch.Tensor, cond: bool) -> torch.Tensor:
        return (0.5 if cond else -0.25) * noisy + 1e-3 * t.view(-1, 1, 1, 1)

    def predict_noise(self, noisy, t, views, guidance_scale):  # type: ignore[no-untyped-def]
        self.calls.append(noisy.clone())
        uncond = self.raw(noisy, t, False)
        return uncond + guidance_scale * (self.raw(noisy, t, True) - uncond)


@pytest.fixture(autouse=True)
def linear_prior_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's prior in the registry (for this test only), where its default guidance scale is kept."""
    entry = PriorEntry("linear", f"{__name__}:LinearPrior", "A test prior", label="Linear", default_guidance_scale=7.0)
    monkeypatch.setitem(PRIORS, entry.name, entry)


def _views(batch: int) -> list[ViewContext]:
    return [ViewContext("front", ShadingMode.COLORED, 0.0, 0.0)] * batch


def test_gradient_equals_the_sds_formula() -> None:
    prior = LinearPrior()
    sds = ScoreDistillation(prior, GuidanceConfig(guidance_scale=5.0))
    rgb = torch.rand(2, 3, 8, 8, requires_grad=True)
    generator = torch.Generator().manual_seed(3)
    step = sds(rgb, _views(2), 0.0, generator)
    step.loss.backward()

    # Recompute independently with the same draws.
    replay = torch.Generator().manual_seed(3)
    t = torch.randint(20, 981, (2,), generator=replay)
    eps = torch.randn(2, 3, 8, 8, generator=replay)
    abar = prior.alphas_cumprod[t].view(-1, 1, 1, 1)
    x = 2 * rgb.detach() - 1
    z = abar.sqrt() * x + (1 - abar).sqrt() * eps
    uncond, cond = -0.25 * z + 1e-3 * t.view(-1, 1, 1, 1), 0.5 * z + 1e-3 * t.view(-1, 1, 1, 1)
    eps_hat = uncond + 5.0 * (cond - uncond)
    expected = (1 - abar) * (eps_hat - eps)  # w(t) = sigma_t^2, in the prior's space
    assert torch.equal(step.t, t)
    torch.testing.assert_close(step.gradient, expected)
    # Chain rule through encode (x = 2 rgb - 1), averaged over the batch.
    torch.testing.assert_close(rgb.grad, 2 * expected / 2)


def test_no_graph_reaches_the_denoiser() -> None:
    prior = LinearPrior()
    sds = ScoreDistillation(prior, GuidanceConfig())
    rgb = torch.rand(1, 3, 4, 4, requires_grad=True)
    sds(rgb, _views(1), 0.0, torch.Generator().manual_seed(0))
    assert not prior.calls[0].requires_grad


def test_default_guidance_scale_comes_from_the_prior() -> None:
    assert ScoreDistillation(LinearPrior(), GuidanceConfig()).guidance_scale == 7.0
    assert ScoreDistillation(LinearPrior(), GuidanceConfig(guidance_scale=100.0)).guidance_scale == 100.0


def test_t_is_drawn_inside_the_configured_range() -> None:
    prior = LinearPrior()
    sds = ScoreDistillation(prior, GuidanceConfig(t_range=(0.02, 0.98)))
    generator = torch.Generator().manual_seed(0)
    ts = torch.cat([sds(torch.rand(4, 3, 2, 2), _views(4), 0.5, generator).t for _ in range(200)])
    assert ts.min() >= 20 and ts.max() <= 980
    assert ts.min() < 60 and ts.max() > 940  # the whole range is used


class NarrowPrior(LinearPrior):
    default_t_range = (0.1, 0.3)


def test_t_range_comes_from_the_prior_unless_set() -> None:
    generator = torch.Generator().manual_seed(0)
    narrow = ScoreDistillation(NarrowPrior(), GuidanceConfig())
    ts = torch.cat([narrow(torch.rand(4, 3, 2, 2), _views(4), 0.5, generator).t for _ in range(100)])
    assert ts.min() >= 100 and ts.max() <= 300
    assert ScoreDistillation(NarrowPrior(), GuidanceConfig(t_range=(0.02, 0.98))).t_range(0.0) == (20, 980)


def test_the_camera_conditioned_prior_and_its_oracle_share_a_low_noise_range() -> None:
    """The oracle is the camera prior's bound only if both draw the same noise levels; the learned priors keep the
    paper's range."""
    guidance = GuidanceConfig()
    assert CameraProceduralPrior.t_range_of(guidance) == OraclePrior.t_range_of(guidance) == (0.02, 0.4)
    assert StableDiffusionPrior.t_range_of(guidance) == (0.02, 0.98)
    assert CameraProceduralPrior.t_range_of(GuidanceConfig(t_range=(0.02, 0.98))) == (0.02, 0.98)


def test_t_max_anneals_linearly() -> None:
    sds = ScoreDistillation(LinearPrior(), GuidanceConfig(t_anneal=True, t_range=(0.02, 0.98), t_anneal_end=0.5))
    assert sds.t_range(0.0) == (20, 980)
    assert sds.t_range(0.5) == (20, 740)
    assert sds.t_range(1.0) == (20, 500)


def test_uniform_weighting_is_one() -> None:
    sds = ScoreDistillation(LinearPrior(), GuidanceConfig(weighting="uniform"))
    assert torch.equal(sds.weight(torch.tensor([20, 500])), torch.ones(2))
