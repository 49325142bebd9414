"""The NeRF field interface: density tau, albedo rho and outward normals.

A field also says how it wants to be optimized (its parameter groups and their learning rates: a dense
grid's logits, a signed distance in metres and an MLP's weights move at very different rates) and where
its surface is, when it knows (a signed-distance field does; a density field leaves it to the mesh
export's automatic threshold).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..config import BOUND, FieldConfig


@dataclass
class FieldSample:
    """Field values at a batch of points (..., 3)."""

    density: torch.Tensor  # (...,) tau >= 0
    albedo: torch.Tensor  # (..., 3) rho in [0, 1]
    normals: torch.Tensor  # (..., 3) unit, pointing out of the object
    gradient_norm: torch.Tensor | None = None  # (...,) |grad s| of a signed-distance field (the eikonal term's input)


class Field(nn.Module, ABC):
    """A density + albedo field inside [-bound, bound]^3."""

    bound: float
    default_learning_rates: ClassVar[dict[str, float]]  # Adam's rate per parameter group (OptimConfig may override)

    @classmethod
    def from_config(cls, config: FieldConfig) -> Field:
        """The field a run trains, from its ``field`` settings, in the box of half-extent ``BOUND``. Every field's
        constructor takes ``(config, bound)``; one that needs more builds it here."""
        return cls(config, BOUND)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The parameters by group name, each optimized at its own learning rate."""
        return {"geometry": list(self.parameters())}

    @property
    def surface_density(self) -> float | None:
        """The density at the field's surface, when the field defines one (None: the export finds a level)."""
        return None

    def set_progress(self, fraction: float) -> None:
        """Told the run's progress in [0, 1] each step (coarse-to-fine schedules)."""

    @abstractmethod
    def forward(self, points: torch.Tensor) -> FieldSample:
        """Density, albedo and normals at ``points`` (..., 3), differentiable."""

    def smoothness(self) -> torch.Tensor:
        """A penalty on high-frequency density (crumpled surfaces); 0 for fields without one."""
        return next(self.parameters()).new_zeros(())

    def curvature(self) -> torch.Tensor:
        """A penalty on the surface's curvature (lumps smaller than a pixel of the renders); 0 for fields without
        one."""
        return next(self.parameters()).new_zeros(())

    @contextmanager
    def one_step(self) -> Iterator[None]:
        """For one training step's passes over the same parameters (render, regularizers), fields may build
        shared data once."""
        yield

    @torch.no_grad()
    def density(self, points: torch.Tensor) -> torch.Tensor:
        """Density only, without gradients (the renderer's culling pass)."""
        return self.forward(points).density

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """While the parameters do not change (export, previews), fields may cache derived data."""
        yield

    @torch.no_grad()
    def density_and_albedo(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Density and albedo only, without gradients (mesh export, previews)."""
        sample = self.forward(points)
        return sample.density, sample.albedo
