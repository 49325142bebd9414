"""The whole objective of one step: the SDS term plus the paper's regularizers, each named and weighted.

loss = sds + lambda_orient(t) * orientation + lambda_opacity * opacity + lambda_smooth * smoothness
       + lambda_eikonal * eikonal + lambda_curvature * curvature

``TERMS`` is the one list of terms: a new term is one ``LossTerm`` there (its name, its weight at a point
of the run, and its formula). Each term's weighted value is reported on its own (``progress`` events carry
them as ``losses``), and ``total`` is their sum in ``TERMS`` order. A term weighted 0 is not computed.
The weights' schedules live here with their terms; the SDS estimator itself is ``guidance/sds.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import add

import torch

from .config import RegularizerConfig
from .field.base import Field
from .guidance.sds import SDSStep
from .renderer import MarchedSamples, Rendering


@dataclass
class LossInputs:
    """What one step's terms are computed from: the render, its SDS evaluation and the field."""

    rendering: Rendering
    sds: SDSStep
    field: Field


@dataclass(frozen=True)
class LossTerm:
    """One named term of the objective: its weight at a point of the run and its formula."""

    name: str
    weight: Callable[[float, RegularizerConfig], float]  # (fraction of the run, config) -> lambda
    value: Callable[[LossInputs], torch.Tensor]  # the unweighted scalar


@dataclass
class LossBreakdown:
    """One step's weighted terms by name (every term of ``TERMS``, in order) and their sum."""

    terms: dict[str, torch.Tensor]
    total: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        """The weighted terms as numbers, for the ``losses`` object of ``progress`` events."""
        return {name: float(value.detach()) for name, value in self.terms.items()}


def orientation_penalty(samples: MarchedSamples) -> torch.Tensor:
    """sum_i stopgrad(w_i) max(0, n_i . d)^2 per ray, averaged over every ray (the paper's orientation loss,
    from Ref-NeRF): normals facing away from the camera are penalized where the ray sees them."""
    facing = (samples.normals * samples.directions).sum(dim=-1).clamp_min(0.0)
    return (samples.weights.detach() * facing**2).sum() / samples.total_rays


def eikonal_penalty(samples: MarchedSamples) -> torch.Tensor:
    """mean (|grad s| - 1)^2 over the samples the render evaluated (near the surface, where it matters), read from
    the render's own field evaluation; 0 for fields without a signed distance."""
    norm = samples.visible_gradient_norm
    if norm is None or norm.numel() == 0:
        return samples.weights.new_zeros(())
    return (norm - 1.0).square().mean()


def opacity_penalty(opacity: torch.Tensor) -> torch.Tensor:
    """mean sqrt(acc^2 + 0.01) over the pixels (paper A.2): pushes empty space to stay empty."""
    return torch.sqrt(opacity**2 + 0.01).mean()


def orientation_weight(fraction: float, config: RegularizerConfig) -> float:
    """Annealed from the start weight to the full weight over ``orientation_anneal_fraction`` of the run, in log
    space (paper: 1e-4 -> 1e-2 over 5k steps) or linearly (threestudio: 10 -> 1000 over 5k steps)."""
    if config.orientation_weight <= 0.0:
        return 0.0
    ramp = min(fraction / config.orientation_anneal_fraction, 1.0) if config.orientation_anneal_fraction > 0 else 1.0
    low, high = config.orientation_weight_start, config.orientation_weight
    if config.orientation_ramp == "linear":
        return low + (high - low) * ramp
    return math.exp(math.log(low) + (math.log(high) - math.log(low)) * ramp)


TERMS: tuple[LossTerm, ...] = (
    # The SDS term is what the regularizers are weighted against: always 1.
    LossTerm("sds", lambda fraction, config: 1.0, lambda inputs: inputs.sds.loss),
    LossTerm("orientation", orientation_weight, lambda inputs: orientation_penalty(inputs.rendering.samples)),
    LossTerm("opacity", lambda fraction, config: config.opacity_weight, lambda i: opacity_penalty(i.rendering.opacity)),
    LossTerm("smoothness", lambda fraction, config: config.smoothness_weight, lambda i: i.field.smoothness()),
    LossTerm(
        "eikonal",
        lambda fraction, config: config.eikonal_weight,
        lambda i: eikonal_penalty(i.rendering.samples),
    ),
    LossTerm("curvature", lambda fraction, config: config.curvature_weight, lambda i: i.field.curvature()),
)


def step_loss(inputs: LossInputs, fraction: float, config: RegularizerConfig) -> LossBreakdown:
    """Every term of ``TERMS`` weighted at ``fraction`` of the run, and their sum (terms weighted 0 are 0)."""
    weights = {term.name: term.weight(fraction, config) for term in TERMS}
    computed = {term.name: weights[term.name] * term.value(inputs) for term in TERMS if weights[term.name] != 0.0}
    total = reduce(add, computed.values())
    terms = {name: computed.get(name, total.new_zeros(())) for name in weights}
    return LossBreakdown(terms=terms, total=total)
