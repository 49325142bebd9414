"""What the two grid fields share: multi-resolution dense grids, coarse to fine.

Geometry (one channel) and albedo logits (three) are separate parameters, so each gets its own learning rate.
Every level is read at the sample points themselves (trilinear ``grid_sample``) and the levels are summed
there; nothing is upsampled to the finest resolution, so a step costs what its samples cost, whatever the
resolution. Each geometry level carries its own gradient, by central differences at its resolution, read at
the same points: normals come with no second backward pass. A level's geometry, gradient and albedo are one
seven-channel volume, read with one ``grid_sample`` (the sampler's per-point work is shared by the channels).
Coarse levels unlock first. The fields differ in
what the geometry channel means (a density logit, or a signed distance) and in the shape they start from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..config import FieldConfig
from .base import Field


class GridLevels(Field):
    def __init__(self, config: FieldConfig, bound: float) -> None:
        super().__init__()
        self.config = config
        self.bound = bound
        resolutions = config.grid_resolutions
        self.geometry = nn.ParameterList([nn.Parameter(torch.zeros(1, 1, r, r, r)) for r in resolutions])
        self.albedo = nn.ParameterList([nn.Parameter(torch.zeros(1, 3, r, r, r)) for r in resolutions])
        self.active_levels = 1 if config.coarse_to_fine_fraction > 0 else len(resolutions)
        self._held_volumes: list[torch.Tensor] | None = None

    @property
    def spacing(self) -> float:
        """The finest level's voxel size."""
        return 2.0 * self.bound / (self.config.grid_resolutions[-1] - 1)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"geometry": list(self.geometry), "albedo": list(self.albedo)}

    def set_progress(self, fraction: float) -> None:
        n = len(self.geometry)
        ramp = self.config.coarse_to_fine_fraction
        self.active_levels = n if ramp <= 0 else min(n, 1 + int(fraction / ramp * (n - 1) + 1e-9))

    @contextmanager
    def one_step(self) -> Iterator[None]:
        """The level volumes built once for a training step (culling pass, shaded pass, regularizers)."""
        with self._holding(self.volumes()):
            yield

    @contextmanager
    def _holding(self, volumes: list[torch.Tensor]) -> Iterator[None]:
        held, self._held_volumes = self._held_volumes, volumes
        try:
            yield
        finally:
            self._held_volumes = held

    def volumes(self) -> list[torch.Tensor]:
        """Per active level (1, 7, r, r, r): geometry, its gradient (xyz) and the albedo logits; axes (z, y, x)."""
        if self._held_volumes is not None:
            return self._held_volumes
        volumes = []
        active = self.active_levels
        for level, albedo in zip(self.geometry[:active], self.albedo[:active], strict=True):
            spacing = 2.0 * self.bound / (level.shape[-1] - 1)
            gz, gy, gx = torch.gradient(level, spacing=spacing, dim=(2, 3, 4))
            volumes.append(torch.cat([level, gx, gy, gz, albedo], dim=1))
        return volumes

    def geometry_and_albedo_at(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed geometry and its gradient (..., 4), and albedo logits (..., 3), at ``points`` (..., 3)."""
        values = _summed(self.volumes(), points, self.bound)
        return values[..., :4], values[..., 4:]

    def geometry_at(self, points: torch.Tensor) -> torch.Tensor:
        """Summed geometry (..., 1) at ``points`` (..., 3), without its gradient (density-only queries)."""
        return _summed(list(self.geometry[: self.active_levels]), points, self.bound)

    def albedo_at(self, points: torch.Tensor) -> torch.Tensor:
        """The albedo logits (..., 3) at ``points``."""
        return _summed(list(self.albedo[: self.active_levels]), points, self.bound)

    @torch.no_grad()
    def density_and_albedo(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Without normals, for mesh export's millions of points."""
        return self.density(points), torch.sigmoid(self.albedo_at(points))


def _summed(volumes: list[torch.Tensor], points: torch.Tensor, bound: float) -> torch.Tensor:
    """Every volume (1, C, r, r, r) over [-bound, bound]^3 read at ``points`` (..., 3), summed: (..., C)."""
    total = _trilinear(volumes[0], points, bound)
    for volume in volumes[1:]:
        total = total + _trilinear(volume, points, bound)
    return total


def _trilinear(volume: torch.Tensor, points: torch.Tensor, bound: float) -> torch.Tensor:
    """(1, C, R, R, R) over [-bound, bound]^3 read at ``points`` (..., 3): (..., C)."""
    grid = points.reshape(1, -1, 1, 1, 3) / bound
    values = F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return values.reshape(volume.shape[1], -1).T.reshape(*points.shape[:-1], volume.shape[1])
