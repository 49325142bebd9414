"""The paper's field: mip-NeRF 360 style MLP (positional encoding L=8, 5 ResNet blocks of 128
units, SiLU, LayerNorm). Normals come from autograd of the density. Slow on CPU; for GPUs."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config import BOUND, FieldConfig
from .base import Field, FieldSample
from .blob import blob


class _ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.linear = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.linear(F.silu(self.norm(x)))


class MLPField(Field):
    # Adam at the rate NeRF-style MLPs use (stable-dreamfusion 1e-3); the grids' 5e-2 is far too fast for weights.
    default_learning_rates: ClassVar[dict[str, float]] = {"geometry": 1e-3}

    def __init__(self, config: FieldConfig, bound: float = BOUND) -> None:
        super().__init__()
        self.config = config
        self.bound = bound
        self.register_buffer("frequencies", 2.0 ** torch.arange(config.mlp.octaves) * torch.pi, persistent=False)
        in_features = 3 + 6 * config.mlp.octaves
        self.input = nn.Linear(in_features, config.mlp.hidden)
        self.blocks = nn.Sequential(*[_ResidualBlock(config.mlp.hidden) for _ in range(config.mlp.blocks)])
        self.output = nn.Linear(config.mlp.hidden, 4)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def _raw(self, points: torch.Tensor) -> torch.Tensor:
        x = points / self.bound
        angles = x.unsqueeze(-1) * self.frequencies
        encoded = torch.cat([x, torch.sin(angles).flatten(-2), torch.cos(angles).flatten(-2)], dim=-1)
        return self.output(self.blocks(self.input(encoded)))

    def forward(self, points: torch.Tensor) -> FieldSample:
        keep_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            if not points.requires_grad:
                points = points.detach().requires_grad_(True)
            raw = self._raw(points)
            offset, _ = blob(points, self.config)
            pre = raw[..., 0] + offset
            (gradient,) = torch.autograd.grad(pre.sum(), points, create_graph=keep_graph)
        normals = -gradient / gradient.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        sample = FieldSample(density=F.softplus(pre), albedo=torch.sigmoid(raw[..., 1:4]), normals=normals)
        if not keep_graph:
            sample = FieldSample(sample.density.detach(), sample.albedo.detach(), sample.normals.detach())
        return sample
