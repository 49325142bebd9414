"""Adam over the field's parameters and its learning-rate schedule (paper A.2: warm-up, then cosine decay).

The schedule is a function of the fraction of the run done, set before every step, so it holds for every
step count and a resumed run continues it exactly. The loss weights' schedules live with the loss
(``engine/loss.py``).
"""

from __future__ import annotations

import math

import torch

from .config import OptimConfig
from .field.base import Field

ADAM_BETAS = (0.9, 0.99)


def build_optimizer(field: Field, config: OptimConfig) -> torch.optim.Adam:
    return torch.optim.Adam(field.parameters(), lr=config.lr, betas=ADAM_BETAS, eps=config.adam_eps)


def learning_rate(fraction: float, config: OptimConfig) -> float:
    """Linear warm-up, then cosine decay to ``lr * lr_end_factor`` (paper A.2, shape only)."""
    if fraction < config.warmup_fraction:
        return config.lr * max(fraction / config.warmup_fraction, 1e-3)
    progress = (fraction - config.warmup_fraction) / max(1.0 - config.warmup_fraction, 1e-9)
    end = config.lr * config.lr_end_factor
    return end + 0.5 * (config.lr - end) * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def set_learning_rate(optimizer: torch.optim.Optimizer, fraction: float, config: OptimConfig) -> None:
    """The schedule's rate at this point of the run, on every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(fraction, config)


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One gradient step on ``loss``."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
