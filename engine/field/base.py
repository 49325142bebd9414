"""The NeRF field interface: density tau, albedo rho and normals n = -grad tau / ||grad tau||."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class FieldSample:
    """Field values at a batch of points (..., 3)."""

    density: torch.Tensor  # (...,) tau >= 0
    albedo: torch.Tensor  # (..., 3) rho in [0, 1]
    normals: torch.Tensor  # (..., 3) unit, pointing out of the object


class Field(nn.Module, ABC):
    """A density + albedo field inside [-bound, bound]^3."""

    bound: float

    def set_progress(self, fraction: float) -> None:
        """Told the run's progress in [0, 1] each step (coarse-to-fine schedules)."""

    @abstractmethod
    def forward(self, points: torch.Tensor) -> FieldSample:
        """Density, albedo and normals at ``points`` (..., 3), differentiable."""

    def smoothness(self) -> torch.Tensor:
        """A penalty on high-frequency density (crumpled surfaces); 0 for fields without one."""
        return torch.zeros(())

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """While the parameters do not change (export, previews), fields may cache derived data."""
        yield

    @torch.no_grad()
    def density_and_albedo(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Density and albedo only, without gradients (mesh export, previews)."""
        sample = self.forward(points)
        return sample.density, sample.albedo
