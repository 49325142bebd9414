"""The signed-distance grid (the default field): multi-resolution grids of a signed distance and albedo.

The geometry channel is a correction to the signed distance of a sphere (the start shape, radius
``sdf_init_radius``), and density is VolSDF's: sigma = Psi_beta(-s) / beta, the Laplace CDF of the
distance (Yariv et al. 2021), so the surface is the zero level wherever it goes. With the eikonal term
(|grad s| = 1 near the surface, ``loss.py``) the geometry stays a distance, which is what makes the
surfaces smooth and the mesh export exact: the density grid's free logits crumple under a 64 px SDS
signal, and its surface must be guessed by a threshold (bench/REPORT.md has both measured).

Renders of 64 px (a pixel is about a voxel of the finest level) cannot see lumps of a voxel's size, so nothing
in the image flattens them: the curvature term (Neuralangelo, Li et al. 2023: the mean |Laplacian s| near the
surface) does, at the samples the render evaluated.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from ..config import BOUND, FieldConfig
from .base import FieldSample
from .grid_levels import GridLevels

CURVATURE_POINTS = 2048  # samples the curvature term reads per step (~20 ms a step on the loaded 2-core machine)


class SDFGridField(GridLevels):
    # Measured on "a red cube" (camera-conditioned prior, fast preset): a distance in metres moves ~0.3 in a few
    # hundred steps at 1e-2; albedo logits need the grids' 5e-2 to reach saturated colors in time.
    default_learning_rates: ClassVar[dict[str, float]] = {"geometry": 1e-2, "albedo": 5e-2}

    def __init__(self, config: FieldConfig, bound: float = BOUND) -> None:
        super().__init__(config, bound)
        self.beta = config.sdf_beta
        self.init_radius = config.sdf_init_radius

    def set_progress(self, fraction: float) -> None:
        """Coarse levels unlock, and beta falls from ``sdf_beta`` to ``sdf_beta_end`` (geometrically) over the run."""
        super().set_progress(fraction)
        end = self.config.sdf_beta_end
        if end is not None:
            self.beta = self.config.sdf_beta * (end / self.config.sdf_beta) ** min(max(fraction, 0.0), 1.0)

    @property
    def surface_density(self) -> float:
        return 0.5 / self.beta

    def distance_to_density(self, distance: torch.Tensor) -> torch.Tensor:
        """VolSDF: (1/beta) * Psi(-s), Psi the Laplace CDF with scale beta."""
        half = 0.5 * torch.exp(-distance.abs() / self.beta)
        return torch.where(distance > 0, half, 1.0 - half) / self.beta

    def curvature(self, points: torch.Tensor) -> torch.Tensor:
        """Mean |Laplacian s| (1/m) at ``points`` (N, 3), by central differences a finest-level voxel wide (as
        Neuralangelo does at its samples), over an even stride of at most CURVATURE_POINTS of them (no random draw:
        a resumed run stays identical); 0 without points."""
        if points.shape[0] == 0:
            return points.new_zeros(())
        points = points[:: -(-points.shape[0] // CURVATURE_POINTS)]
        step = self.spacing
        offsets = torch.cat([torch.eye(3, device=points.device), -torch.eye(3, device=points.device)]) * step
        probes = torch.cat([points.unsqueeze(0), points.unsqueeze(0) + offsets.unsqueeze(1)])  # (7, N, 3)
        distance = self.geometry_at(probes)[..., 0] + self._start(probes)[0]
        laplacian = (distance[1:].sum(dim=0) - 6.0 * distance[0]) / step**2
        return laplacian.abs().mean()

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
