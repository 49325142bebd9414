"""The background stage: the color each training render is composited over.

threestudio learns a background; the paper uses a small MLP over the view direction. A background that is
learned, or fixed, can be absorbed by the object (a white object on a light gray one has almost no contrast,
and a torus's hole can be filled with background-colored fog). A random color every step can never be, and
every object color stands out against most of them. It needs a prior that can compose its data over any
background: the camera-conditioned procedural prior renders its data at the query anyway; the text-only one's
were rendered over the fixed background once, so it keeps that.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import ShadingConfig
from .errors import EngineError
from .guidance.base import DiffusionPrior

TRAINING_BACKGROUNDS = ("auto", "random", "fixed")


@dataclass(frozen=True)
class TrainingBackground:
    """One random color a step, or the fixed one."""

    fixed: tuple[float, float, float]
    random: bool

    @classmethod
    def for_prior(cls, config: ShadingConfig, prior: DiffusionPrior) -> TrainingBackground:
        """``config.training_background`` resolved for ``prior`` ("auto": random where the prior can take it)."""
        choice = config.training_background
        if choice not in TRAINING_BACKGROUNDS:
            raise EngineError(
                f"training_background must be one of {', '.join(TRAINING_BACKGROUNDS)}, not {choice!r}", "input"
            )
        if choice == "random" and not prior.renders_any_background:
            raise EngineError(
                f"the {prior.name} prior's data are rendered over the fixed background, so it cannot score renders "
                'over a random one; set shading.training_background to "fixed" or "auto"',
                "input",
            )
        return cls(config.background, choice == "random" or (choice == "auto" and prior.renders_any_background))

    def draw(self, generator: torch.Generator) -> torch.Tensor:
        """(3,) this step's color (the random one comes from the run's generator, so a resume stays exact)."""
        if self.random:
            return torch.rand(3, generator=generator)
        return torch.tensor(self.fixed)
