"""Perp-Neg guidance (Armandpour et al. 2023, "Re-imagine the Negative Prompt Algorithm"), the Janus fix the
public DreamFusion projects merged: a render's positive prompt is interpolated between the view prompts on
either side of its azimuth, and the other views' prompts act as negatives whose guidance directions count
only through their part perpendicular to the positive one, so a back view is pushed away from "front view"
without cancelling the object itself.

    eps = eps_u + s (d_pos + sum_i w_i perp(d_i, d_pos)),  d = eps_cond - eps_u,
    perp(a, b) = a - (<a, b> / |b|^2) b   (per image)

The weights w_i (negative) follow the public implementations: on the front half the front and side prompts
are the negatives, decaying as the view nears them; on the back half the side (decaying) and the front
(full weight). Settings: ``guidance.perp_neg`` (PerpNegConfig in engine/config.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import PerpNegConfig


@dataclass(frozen=True)
class PerpNegView:
    """One render's prompts: ``positive`` as (view suffix, share) pairs that sum to 1, ``negatives`` as
    (view suffix, weight) pairs."""

    positive: tuple[tuple[str, float], ...]
    negatives: tuple[tuple[str, float], ...]


def perp_neg_view(azimuth_deg: float, settings: PerpNegConfig) -> PerpNegView:
    """The prompts and weights for a render at ``azimuth_deg`` (0 is the front, 90 the side, 180 the back)."""
    azimuth = abs((azimuth_deg + 180.0) % 360.0 - 180.0)  # 0..180, symmetric left and right
    negative = settings.weight
    if azimuth < 90.0:
        share = 1.0 - azimuth / 90.0  # of the front prompt
        front = 0.0 if share > 0.8 else math.exp(-share * settings.front_decay) * negative
        side = 0.0 if share < 0.2 else math.exp(-(1.0 - share) * settings.side_decay) * negative
        return PerpNegView((("front", share), ("side", 1.0 - share)), (("front", front), ("side", side)))
    share = 1.0 - (azimuth - 90.0) / 90.0  # of the side prompt
    side = 0.0 if share > 0.8 else math.exp(-share * settings.side_decay) * negative / 2.0
    return PerpNegView((("side", share), ("back", 1.0 - share)), (("side", side), ("front", negative)))


def perpendicular(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The part of each image of ``x`` (B, ...) perpendicular to the same image of ``y``."""
    flat_x, flat_y = x.flatten(1), y.flatten(1)
    along = (flat_x * flat_y).sum(1) / (flat_y * flat_y).sum(1).clamp_min(1e-6)
    return x - along.view(-1, *([1] * (x.dim() - 1))) * y


def perp_neg_guided(
    unconditional: torch.Tensor,
    positive: torch.Tensor,
    negatives: list[tuple[torch.Tensor, torch.Tensor]],
    guidance_scale: float,
) -> torch.Tensor:
    """eps_u + s (d_pos + sum_i w_i perp(d_i, d_pos)) for (prediction, per-image weight (B,)) negatives."""
    direction = positive - unconditional
    total = direction.clone()
    for prediction, weights in negatives:
        total += weights.view(-1, *([1] * (direction.dim() - 1))) * perpendicular(prediction - unconditional, direction)
    return unconditional + guidance_scale * total
