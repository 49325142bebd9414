"""VolSDF's density of a signed distance (Yariv et al. 2021), for the fields whose geometry is a distance."""

from __future__ import annotations

import torch


def volsdf_density(distance: torch.Tensor, beta: float) -> torch.Tensor:
    """(1 / beta) Psi_beta(-s), Psi the Laplace CDF with scale beta: 1 / beta deep inside, 1 / (2 beta) at the
    surface, falling as exp(-s / beta) outside."""
    half = 0.5 * torch.exp(-distance.abs() / beta)
    return torch.where(distance > 0, half, 1.0 - half) / beta
