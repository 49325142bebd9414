"""The signed-distance grid (the default field): multi-resolution grids of a signed distance and albedo.

The geometry channel is a correction to the signed distance of a sphere (the start shape, radius
``field.sdf_grid.init_radius``), and density is VolSDF's: sigma = Psi_beta(-s) / beta, the Laplace CDF of the
distance (Yariv et al. 2021), so the surface is the zero level wherever it goes. With the eikonal term
(|grad s| = 1 near the surface, ``loss.py``) the geometry stays a distance, which is what makes the
surfaces smooth and the mesh export exact: the density grid's free logits crumple under a 64 px SDS
signal, and its surface must be guessed by a threshold (bench/REPORT.md has both measured).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from ..config import BOUND, FieldConfig
from .base import FieldSample
from .grid_levels import GridLevels


class SDFGridField(GridLevels):
    # Measured on "a red cube" (camera-conditioned prior, fast preset): a distance in metres moves ~0.3 in a few
    # hundred steps at 1e-2; albedo logits need the grids' 5e-2 to reach saturated colors in time.
    default_learning_rates: ClassVar[dict[str, float]] = {"geometry": 1e-2, "albedo": 5e-2}

    def __init__(self, config: FieldConfig, bound: float = BOUND) -> None:
        super().__init__(config, bound)
        self.beta = config.sdf_grid.beta
        self.init_radius = config.sdf_grid.init_radius

    @property
    def surface_density(self) -> float:
        return 0.5 / self.beta

    def distance_to_density(self, distance: torch.Tensor) -> torch.Tensor:
        """VolSDF: (1/beta) * Psi(-s), Psi the Laplace CDF with scale beta."""
        half = 0.5 * torch.exp(-distance.abs() / self.beta)
        return torch.where(distance > 0, half, 1.0 - half) / self.beta

    def _start(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        radius = points.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return (radius - self.init_radius).squeeze(-1), points / radius

    def forward(self, points: torch.Tensor) -> FieldSample:
        geometry, albedo = self.geometry_and_albedo_at(points)
        start, start_gradient = self._start(points)
        gradient = geometry[..., 1:] + start_gradient
        norm = gradient.norm(dim=-1)
        normals = gradient / norm.unsqueeze(-1).clamp_min(1e-6)
        density = self.distance_to_density(geometry[..., 0] + start)
        return FieldSample(density, torch.sigmoid(albedo), normals, gradient_norm=norm)

    @torch.no_grad()
    def density(self, points: torch.Tensor) -> torch.Tensor:
        return self.distance_to_density(self.geometry_at(points)[..., 0] + self._start(points)[0])
