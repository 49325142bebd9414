"""The fast CPU backbone: a multi-resolution dense grid in pure PyTorch.

Each level is a (1, 4, r, r, r) grid of raw density and albedo logits. Every step the active
levels are upsampled and summed into one volume at the finest resolution (coarse levels
unlock first: coarse-to-fine), its density gradient is taken by central differences, and
one trilinear ``grid_sample`` reads density, albedo and gradient at all ray samples.
Normals are therefore exact for the interpolated field, with no second backward pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..config import BOUND, FieldConfig
from .base import Field, FieldSample
from .blob import blob


class GridField(Field):
    def __init__(self, config: FieldConfig, bound: float = BOUND) -> None:
        super().__init__()
        self.config = config
        self.bound = bound
        self.levels = nn.ParameterList([nn.Parameter(torch.zeros(1, 4, r, r, r)) for r in config.grid_resolutions])
        self.active_levels = 1 if config.coarse_to_fine_fraction > 0 else len(self.levels)
        self._frozen_volume: torch.Tensor | None = None

    def set_progress(self, fraction: float) -> None:
        n = len(self.levels)
        ramp = self.config.coarse_to_fine_fraction
        self.active_levels = n if ramp <= 0 else min(n, 1 + int(fraction / ramp * (n - 1) + 1e-9))

    def smoothness(self) -> torch.Tensor:
        """Mean squared difference of neighbouring raw densities, summed over the active levels."""
        total = torch.zeros(())
        for level in self.levels[: self.active_levels]:
            density = level[:, 0]
            for dim in (1, 2, 3):
                total = total + density.diff(dim=dim).square().mean()
        return total

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Build the summed volume once for many no-gradient queries (mesh export samples 256^3 points)."""
        with torch.no_grad():
            self._frozen_volume = self.volume()
        try:
            yield
        finally:
            self._frozen_volume = None

    def volume(self) -> torch.Tensor:
        """(1, 7, R, R, R): raw density, albedo logits (3), raw density gradient (3, xyz), axes (z, y, x)."""
        if self._frozen_volume is not None:
            return self._frozen_volume
        finest = self.config.grid_resolutions[-1]
        raw = None
        for level in self.levels[: self.active_levels]:
            if level.shape[-1] != finest:
                level = F.interpolate(level, size=(finest,) * 3, mode="trilinear", align_corners=True)
            raw = level if raw is None else raw + level
        spacing = 2.0 * self.bound / (finest - 1)
        density = raw[:, :1]
        gz, gy, gx = torch.gradient(density, spacing=spacing, dim=(2, 3, 4))
        return torch.cat([raw, gx, gy, gz], dim=1)

    def _sample(self, points: torch.Tensor, channels: int) -> torch.Tensor:
        """The first ``channels`` of the volume at ``points`` (..., 3), trilinear: (..., channels)."""
        flat = points.reshape(1, -1, 1, 1, 3) / self.bound
        volume = self.volume()[:, :channels]
        values = F.grid_sample(volume, flat, mode="bilinear", padding_mode="border", align_corners=True)
        return values.reshape(channels, -1).T.reshape(*points.shape[:-1], channels)

    def forward(self, points: torch.Tensor) -> FieldSample:
        values = self._sample(points, 7)
        offset, offset_gradient = blob(points, self.config)
        pre = values[..., 0] + offset
        gradient = values[..., 4:7] + offset_gradient
        normals = -gradient / gradient.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return FieldSample(density=F.softplus(pre), albedo=torch.sigmoid(values[..., 1:4]), normals=normals)

    @torch.no_grad()
    def density_and_albedo(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Without normals: half the channels, for mesh export's millions of points."""
        values = self._sample(points, 4)
        offset, _ = blob(points, self.config)
        return F.softplus(values[..., 0] + offset), torch.sigmoid(values[..., 1:4])
