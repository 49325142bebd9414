"""The signed-distance grid (the default field): multi-resolution grids of a signed distance and albedo.

The geometry channel is a correction to the signed distance of a sphere (the start shape, radius
``field.sdf_grid.init_radius``), and density is VolSDF's: sigma = Psi_beta(-s) / beta, the Laplace CDF of the
distance (Yariv et al. 2021), so the surface is the zero level wherever it goes. With the eikonal term
(|grad s| = 1 near the surface, ``loss.py``) the geometry stays a distance, which is what makes the
surfaces smooth and the mesh export exact: the density grid's free logits crumple under a 64 px SDS
signal, and its surface must be guessed by a threshold (bench/REPORT.md has both measured).

Renders of 64 px (a pixel is about a voxel of the finest level) cannot see lumps of a voxel's size, so nothing
in the image flattens them: the curvature term (Neuralangelo, Li et al. 2023: the mean |Laplacian s| near the
surface) does, read from the finest level's lattice of the summed distance. Neuralangelo reads it at its samples;
on the oracle cube the lattice did better, reaching the faces no camera sees well (bench/results/surface-trials.md).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from ..config import BOUND, FieldConfig
from .base import FieldSample
from .blob import start_sphere
from .grid_levels import GridLevels
from .volsdf import volsdf_density

CURVATURE_BAND = 2.0  # voxels of the finest level either side of the surface


class SDFGridField(GridLevels):
    # Measured on "a red cube" (camera-conditioned prior, fast preset): a distance in metres moves ~0.3 in a few
    # hundred steps at 1e-2; albedo logits need the grids' 5e-2 to reach saturated colors in time.
    default_learning_rates: ClassVar[dict[str, float]] = {"geometry": 1e-2, "albedo": 5e-2}

    def __init__(self, config: FieldConfig, bound: float = BOUND) -> None:
        super().__init__(config, bound)
        self.beta = config.sdf_grid.beta
        self.init_radius = config.sdf_grid.init_radius

    def set_progress(self, fraction: float) -> None:
        """Coarse levels unlock, and beta falls from ``sdf_grid.beta`` to ``sdf_grid.beta_end`` (geometrically)
        over the run."""
        super().set_progress(fraction)
        end = self.config.sdf_grid.beta_end
        if end is not None:
            self.beta = self.config.sdf_grid.beta * (end / self.config.sdf_grid.beta) ** min(max(fraction, 0.0), 1.0)

    @property
    def surface_density(self) -> float:
        return 0.5 / self.beta

    def distance_to_density(self, distance: torch.Tensor) -> torch.Tensor:
        return volsdf_density(distance, self.beta)

    def curvature(self) -> torch.Tensor:
        """Mean |Laplacian s| (1/m) at the finest active level's lattice points within CURVATURE_BAND voxels of
        the surface; s is every active level upsampled to that lattice (as ``grid_sample`` reads them) plus the
        start sphere."""
        levels = list(self.geometry[: self.active_levels])
        size = levels[-1].shape[-1]
        summed = sum(F.interpolate(level, size=(size,) * 3, mode="trilinear", align_corners=True) for level in levels)
        axis = torch.linspace(-self.bound, self.bound, size, device=summed.device)
        lattice = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).flip(-1)  # (z, y, x) order
        distance = summed[0, 0] + self._start(lattice)[0]
        spacing = 2.0 * self.bound / (size - 1)
        centre = distance[1:-1, 1:-1, 1:-1]
        neighbours = sum(
            distance.narrow(dim, start, size - 2).narrow((dim + 1) % 3, 1, size - 2).narrow((dim + 2) % 3, 1, size - 2)
            for dim in range(3)
            for start in (0, 2)
        )
        laplacian = (neighbours - 6.0 * centre) / spacing**2
        near = centre.detach().abs() < CURVATURE_BAND * spacing
        return laplacian[near].abs().mean() if near.any() else centre.new_zeros(())

    def _start(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return start_sphere(points, self.init_radius)

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
