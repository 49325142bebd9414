"""The Bayes-optimal denoiser of a finite image set, and the view weighting that narrows the set.

For data p(x) = sum_i w_i delta(x - x_i) and z_t = alpha_t x + sigma_t eps, the optimal
x0_hat(z_t) = sum_i softmax_i(log w_i - ||z_t - alpha_t x_i||^2 / (2 sigma_t^2)) x_i and
eps_hat = (z_t - alpha_t x0_hat) / sigma_t. The prior weights w_i are how the camera enters:
either a hard window (the view suffix's range) or a kernel around the render's camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import torch

from ..cameras import spherical_to_position
from ..config import CameraConfig
from ..prompts import ViewContext, view_suffix


class ViewSelection(StrEnum):
    SUFFIX = "suffix"  # images whose view suffix is the render's (", front view" -> |azimuth| <= 45 deg)
    KERNEL = "kernel"  # every image, weighted by a Gaussian in the angle between its camera and the render's


@dataclass(frozen=True)
class ClosedFormDenoiser:
    """The optimal denoiser of images (N, D) with prior log-weights (N,); ``squared_norms`` are their
    ||x_i||^2 (N,), computed once per set rather than per call."""

    images: torch.Tensor
    squared_norms: torch.Tensor
    log_weights: torch.Tensor

    def x0(self, noisy: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
        """x0_hat for one noisy image (D,)."""
        # ||z - a x||^2 = ||z||^2 - 2a z.x + a^2 ||x||^2; the first term is the same for every i.
        scaled_match = alpha * (self.images @ noisy) - 0.5 * alpha * alpha * self.squared_norms
        logits = self.log_weights + scaled_match / (sigma * sigma)
        return torch.softmax(logits, dim=0) @ self.images

    def eps(self, noisy: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
        """eps_hat = (z - alpha x0_hat) / sigma for one noisy image (D,)."""
        return (noisy - alpha * self.x0(noisy, alpha, sigma)) / sigma


class ViewWeighting:
    """Prior log-weights of a set's views for a render's camera (computed per set once, queried per render)."""

    def __init__(
        self,
        selection: ViewSelection,
        azimuth_deg: torch.Tensor,
        elevation_deg: torch.Tensor,
        camera: CameraConfig,
        width_deg: float,
    ) -> None:
        self.selection = selection
        self.width_deg = width_deg
        self.directions = _directions(azimuth_deg, elevation_deg)
        self.suffixes = [
            view_suffix(a, e, camera) for a, e in zip(azimuth_deg.tolist(), elevation_deg.tolist(), strict=True)
        ]

    def log_weights(self, view: ViewContext) -> torch.Tensor:
        """(V,) log w_i; all zero when the render's view constrains nothing."""
        if self.selection is ViewSelection.KERNEL:
            query = _directions(torch.tensor([view.azimuth_deg]), torch.tensor([view.elevation_deg]))[0]
            angle = torch.rad2deg(torch.arccos((self.directions @ query).clamp(-1.0, 1.0)))
            return -0.5 * (angle / self.width_deg).square()
        match = torch.tensor([s == view.suffix for s in self.suffixes])
        if not view.suffix or not match.any():  # no view prompt, or a set too small to have this view
            return torch.zeros(len(self.suffixes))
        return torch.where(match, 0.0, -math.inf)


def _directions(azimuth_deg: torch.Tensor, elevation_deg: torch.Tensor) -> torch.Tensor:
    """Unit vectors from the object towards cameras at these angles, (V, 3)."""
    return spherical_to_position(azimuth_deg, elevation_deg, torch.ones_like(azimuth_deg))


def linear_schedule_alphas_cumprod(timesteps: int, device: torch.device) -> torch.Tensor:
    """alphabar_t of DDPM's linear beta schedule (1e-4 to 0.02), the procedural priors' noise schedule."""
    betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0).to(device=device, dtype=torch.float32)
