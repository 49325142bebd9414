"""The guard on every step: a loss or gradient that is not finite skips the update (counted in ``progress``), the
field stays finite and the run finishes; too many in a row stop the run and keep the checkpoint on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from engine import checkpoint, protocol
from engine.config import RunConfig
from engine.errors import EngineError
from engine.field.sdf_grid import SDFGridField
from engine.guidance.base import DiffusionPrior
from engine.optimizer import build_optimizer, descend
from engine.prompts import ViewContext
from engine.registry import PRIORS, PriorEntry
from engine.trainer import Trainer, duration_text


class FailingPrior(DiffusionPrior):
    """A pixel-space prior whose data are one gray image, except at chosen calls, where its prediction is ``inf`` or
    ``nan`` (what a float16 UNet gives when it overflows)."""

    name = "failing"
    num_train_timesteps = 1000

    def __init__(self, failures: dict[int, float]) -> None:
        self.failures = failures  # call index (0-based: the step) -> the value every prediction then takes
        self.calls = 0

    @classmethod
    def from_run_config(
        cls, run: RunConfig, device: torch.device, cache_dir: Path, progress: Any = None
    ) -> FailingPrior:
        return cls({})

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return torch.linspace(0.999, 0.01, self.num_train_timesteps)

    def set_prompt(self, prompt: str, negative_prompt: str, suffixes: tuple[str, ...], progress: Any = None) -> None:
        pass

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb * 2 - 1

    def predict_noise(
        self, noisy: torch.Tensor, t: torch.Tensor, views: list[ViewContext], guidance_scale: float
    ) -> torch.Tensor:
        call, self.calls = self.calls, self.calls + 1
        if call in self.failures:
            return torch.full_like(noisy, self.failures[call])
        alphabar = self.alphas_cumprod[t].view(-1, 1, 1, 1)
        return noisy / (1 - alphabar).sqrt()  # exact for data that are all gray (0 in [-1, 1])


@pytest.fixture(autouse=True)
def test_priors_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's priors in the registry (for this test only), which says whether a prior is learned."""
    for name, target, learned in (("failing", "FailingPrior", False), ("learned-stand-in", "LearnedStandIn", True)):
        entry = PriorEntry(name, f"{__name__}:{target}", "A test prior", label=name, default_guidance_scale=1.0,
                           learned=learned)  # fmt: skip
        monkeypatch.setitem(PRIORS, name, entry)


def small_config(steps: int, **optim: Any) -> RunConfig:
    config = RunConfig(prompt="a gray ball", preview_every=0, checkpoint_every=4, turntable_frames=0)
    config.optim.steps = steps
    config.field.grid_resolutions = (8, 16)
    config.render.resolution = 16
    config.render.samples_per_ray = 16
    for name, value in optim.items():
        setattr(config.optim, name, value)
    return config


def trainer_for(config: RunConfig, prior: DiffusionPrior, run_dir: Path) -> tuple[Trainer, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []

    def emit(event: str, **fields: Any) -> None:
        events.append({"event": event, **fields})

    trainer = Trainer(config, prior, run_dir, emit, torch.device("cpu"))
    return trainer, events


def field_state(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.field.parameters()]


@pytest.mark.slow  # 8 training steps (about 1.5 s alone, 3 s on a loaded machine)
def test_steps_with_inf_or_nan_guidance_are_skipped_counted_and_the_run_finishes(tmp_path: Path) -> None:
    failures = {2: float("inf"), 4: float("nan"), 5: float("-inf")}
    trainer, events = trainer_for(small_config(8), FailingPrior(failures), tmp_path)
    states = []
    original = trainer.train_step

    def recorded_step() -> Any:
        before = field_state(trainer)
        result = original()
        states.append((before, field_state(trainer), not bool(result.skipped)))
        return result

    trainer.train_step = recorded_step  # type: ignore[method-assign]
    assert trainer.optimize() is True
    assert trainer.step == 8 and trainer.skips.counts() == (3, 0)
    applied = [was_applied for _, _, was_applied in states]
    assert applied == [step not in failures for step in range(8)]
    for step, (before, after, _) in enumerate(states):
        unchanged = all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
        assert unchanged == (step in failures), f"step {step} changed the field: {not unchanged}"
    assert all(torch.isfinite(p).all() for p in trainer.field.parameters())
    assert all(torch.isfinite(v).all() for s in trainer.optimizer.state.values() for v in s.values())
    progress = [e for e in events if e["event"] == protocol.PROGRESS]
    assert progress[-1]["step"] == 8 and progress[-1]["skipped_steps"] == 3
    for event in progress:  # what a client reads: JSON-ready, a loss that was not finite as null
        protocol.encode(protocol.PROGRESS, **{k: v for k, v in event.items() if k != "event"})
        assert event["skipped_steps"] == sum(1 for step in failures if step < event["step"])
        assert event["loss"] is None or event["loss"] == event["loss"]


def test_a_run_that_keeps_failing_stops_with_a_sentence_and_keeps_its_last_checkpoint(tmp_path: Path) -> None:
    failures = {step: float("nan") for step in range(6, 100)}
    trainer, _ = trainer_for(small_config(40, max_skipped_in_a_row=5), FailingPrior(failures), tmp_path)
    with pytest.raises(EngineError) as raised:
        trainer.optimize()
    assert raised.value.kind == "diverged"
    message = str(raised.value)
    assert "not finite for 5 steps in a row" in message and "checkpoint at step 4 is kept" in message
    assert trainer.step == 11
    assert checkpoint.read_meta(tmp_path / "checkpoint")["step"] == 4  # written before the failures, not after
    assert all(torch.isfinite(p).all() for p in trainer.field.parameters())


def test_the_gradient_is_clipped_to_the_configured_norm_only_when_asked() -> None:
    config = RunConfig()
    config.field.grid_resolutions = (4,)
    for clip, expect_clipped in ((None, False), (1e-3, True)):
        field = SDFGridField(config.field)
        optimizer = build_optimizer(field, config.optim)
        points = torch.rand(64, 3)
        loss = 1e3 * field(points).density.sum()
        assert not descend(optimizer, loss, clip)
        gradients = [p.grad for p in field.parameters() if p.grad is not None]
        norm = float(torch.nn.utils.get_total_norm(gradients))
        assert (norm == pytest.approx(1e-3, rel=1e-3)) == expect_clipped, norm


class LearnedStandIn(FailingPrior):
    """The same prior, registered as a learned one (what the cpu_cost warning looks at), that fails nowhere."""

    name = "learned-stand-in"


@pytest.mark.slow  # 3 training steps each (about 1.5 s alone)
@pytest.mark.parametrize("learned", [False, True])
def test_a_learned_prior_on_the_cpu_says_what_the_run_will_cost_after_its_first_step(
    learned: bool, tmp_path: Path
) -> None:
    prior = LearnedStandIn({}) if learned else FailingPrior({})
    trainer, events = trainer_for(small_config(3), prior, tmp_path)
    trainer.optimize()
    warnings = [e for e in events if e["event"] == protocol.WARNING]
    if not learned:
        assert warnings == []
        return
    (warning,) = warnings
    assert events.index(warning) < next(i for i, e in enumerate(events) if e["event"] == protocol.PROGRESS)
    assert warning["kind"] == "cpu_cost" and warning["steps"] == 2
    assert warning["seconds_per_step"] > 0
    assert warning["hours"] == pytest.approx(warning["seconds_per_step"] * 2 / 3600, abs=0.01)
    assert "about 1 minute;" in warning["message"] and "GPU" in warning["message"]
    protocol.encode(protocol.WARNING, **{k: v for k, v in warning.items() if k != "event"})


@pytest.mark.parametrize("fused", [True, False])  # fused: skipped on the device (found_inf); else the flag is read
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_descend_changes_nothing_on_a_step_that_is_not_finite_in_either_adam(fused: bool, bad: float) -> None:
    weights = torch.nn.Parameter(torch.ones(4))
    optimizer = torch.optim.Adam([weights], lr=0.1, fused=fused)
    assert not descend(optimizer, (weights * 2).sum())  # one good step first: Adam has moments to keep
    state = {key: value.clone() for key, value in optimizer.state[weights].items()}
    before = weights.detach().clone()
    assert descend(optimizer, (weights * bad).sum()) == 1.0
    assert torch.equal(weights.detach(), before)
    assert all(torch.equal(optimizer.state[weights][key], value) for key, value in state.items())
    assert not descend(optimizer, (weights * 2).sum()) and not torch.equal(weights.detach(), before)


def test_a_cost_reads_in_the_unit_a_person_expects() -> None:
    hours = (412.3, 2.26, 0.04, 0.0001)
    assert [duration_text(h) for h in hours] == ["412 hours", "2.3 hours", "2 minutes", "1 minute"]
