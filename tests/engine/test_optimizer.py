"""The optimizer stage: Adam over the field's parameters and the warm-up + cosine learning-rate schedule."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from engine.config import FieldConfig, OptimConfig
from engine.field.grid import GridField
from engine.field.sdf_grid import SDFGridField
from engine.optimizer import build_optimizer, cosine_decay, descend, learning_rate, set_learning_rate

CONFIG = OptimConfig(lr=0.1, lr_end_factor=0.1, warmup_fraction=0.2)


def test_the_rate_warms_up_linearly_then_decays_by_a_cosine_to_its_end_value() -> None:
    assert learning_rate(0.0, 0.1, CONFIG) == pytest.approx(0.1 * 1e-3)  # never exactly 0
    assert learning_rate(0.1, 0.1, CONFIG) == pytest.approx(0.05)
    assert learning_rate(0.2, 0.1, CONFIG) == pytest.approx(0.1)
    # Half-way through the decay the cosine is at its middle: (lr + end) / 2.
    assert learning_rate(0.6, 0.1, CONFIG) == pytest.approx((0.1 + 0.01) / 2)
    middle = 0.2 + 0.8 * 0.25
    assert learning_rate(middle, 0.1, CONFIG) == pytest.approx(0.01 + 0.5 * 0.09 * (1 + math.cos(math.pi / 4)))
    assert learning_rate(1.0, 0.1, CONFIG) == pytest.approx(0.01)
    rates = [learning_rate(f / 100, 0.1, CONFIG) for f in range(20, 101)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_the_refinement_rate_decays_from_its_start_to_its_end_and_stays_there() -> None:
    assert cosine_decay(0.0, 0.003, 0.00015) == pytest.approx(0.003)
    assert cosine_decay(0.5, 0.003, 0.00015) == pytest.approx((0.003 + 0.00015) / 2)
    assert cosine_decay(1.0, 0.003, 0.00015) == cosine_decay(1.7, 0.003, 0.00015) == pytest.approx(0.00015)


def test_the_optimizer_covers_every_field_parameter_and_follows_the_schedule() -> None:
    field = GridField(FieldConfig(grid_resolutions=(4, 8)))
    optimizer = build_optimizer(field, CONFIG)
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in field.parameters()}
    assert optimizer.defaults["eps"] == CONFIG.adam_eps
    set_learning_rate(optimizer, 0.6, CONFIG)
    rates = {group["name"]: group["lr"] for group in optimizer.param_groups}
    # The config's lr sets the geometry's peak; the albedo keeps the field's own (5e-2), each on the same schedule.
    assert rates == {"geometry": pytest.approx(0.055), "albedo": pytest.approx(0.0275)}


def test_each_field_brings_its_own_rates_and_the_config_overrides_them() -> None:
    field = SDFGridField(FieldConfig(grid_resolutions=(4,)))
    defaults = {group["name"]: group["lr"] for group in build_optimizer(field, OptimConfig()).param_groups}
    assert defaults == SDFGridField.default_learning_rates
    chosen = build_optimizer(field, OptimConfig(lr=3e-3, albedo_lr=7e-3)).param_groups
    assert {group["name"]: group["lr"] for group in chosen} == {"geometry": 3e-3, "albedo": 7e-3}


def test_a_step_descends_the_loss() -> None:
    field = GridField(FieldConfig(grid_resolutions=(4,)))
    optimizer = build_optimizer(field, CONFIG)
    set_learning_rate(optimizer, 0.2, CONFIG)
    target = torch.linspace(-1, 1, field.geometry[0].numel()).view_as(field.geometry[0])
    losses = []
    for _ in range(5):
        loss = ((field.geometry[0] - target) ** 2).sum()
        losses.append(loss.item())
        descend(optimizer, loss)
    assert all(a > b for a, b in itertools.pairwise(losses))
    # Adam's first step moves every parameter by lr against its gradient's sign (here, towards the target).
    fresh = GridField(FieldConfig(grid_resolutions=(4,)))
    first = build_optimizer(fresh, CONFIG)
    set_learning_rate(first, 0.2, CONFIG)
    descend(first, ((fresh.geometry[0] - target) ** 2).sum())
    moved = fresh.geometry[0].detach()
    torch.testing.assert_close(moved, 0.1 * torch.sign(target), atol=1e-6, rtol=0)
