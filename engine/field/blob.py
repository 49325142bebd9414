"""The shapes optimization starts from: the density blob at the origin (paper A.2), and the sphere a signed-distance
field starts as."""

from __future__ import annotations

import torch

from ..config import FieldConfig


def blob(points: torch.Tensor, config: FieldConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre-activation density offset and its gradient at ``points`` (..., 3).

    magic3d (threestudio): s * (1 - r / R), which threestudio found better than the paper's
    gaussian: s * exp(-r^2 / (2 R^2)).
    """
    radius = points.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    if config.blob == "magic3d":
        value = config.blob_strength * (1.0 - radius / config.blob_radius)
        gradient = -config.blob_strength / config.blob_radius * points / radius
    elif config.blob == "gaussian":
        value = config.blob_strength * torch.exp(-(radius**2) / (2 * config.blob_radius**2))
        gradient = -value * points / config.blob_radius**2
    else:
        raise ValueError(f"unknown blob {config.blob!r}")
    return value.squeeze(-1), gradient


def start_sphere(points: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed distance to the start sphere of ``radius`` at ``points`` (..., 3), and its gradient (the unit direction
    out from the origin)."""
    distance = points.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    return (distance - radius).squeeze(-1), points / distance
