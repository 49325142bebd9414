"""Score Distillation Sampling (Poole et al. 2022, eq. 3).

grad_theta = E_{t, eps}[ w(t) (eps_hat(z_t; y, t) - eps) dx/dtheta ], with z_t = alpha_t x + sigma_t eps.
The denoiser runs under no_grad; the residual reaches the renderer through a surrogate loss
0.5 * ||x - stopgrad(x - g)||^2 whose gradient with respect to x is exactly g.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import GuidanceConfig
from ..prompts import ViewContext
from .base import DiffusionPrior


@dataclass
class SDSStep:
    """One SDS evaluation: the surrogate loss and what it was computed from (for logging and tests)."""

    loss: torch.Tensor
    gradient: torch.Tensor  # w(t) (eps_hat - eps), in the prior's input space
    t: torch.Tensor  # (B,) integer timesteps


class ScoreDistillation:
    def __init__(self, prior: DiffusionPrior, config: GuidanceConfig) -> None:
        self.prior = prior
        self.config = config
        self.guidance_scale = prior.guidance_scale_of(config)
        self.noise_range = prior.t_range_of(config)

    def t_range(self, fraction: float) -> tuple[int, int]:
        """Integer [t_min, t_max] at this point of the run; t_max anneals linearly when configured."""
        low, high = self.noise_range
        if self.config.t_anneal:
            high = high + (self.config.t_anneal_end - high) * fraction
            high = max(high, low)
        n = self.prior.num_train_timesteps
        return int(low * n), int(high * n)

    def weight(self, t: torch.Tensor) -> torch.Tensor:
        """w(t): sigma_t^2 = 1 - alphabar_t (paper), or 1."""
        if self.config.weighting == "uniform":
            return torch.ones_like(t, dtype=torch.float32)
        if self.config.weighting == "sds":
            return 1.0 - self.prior.alphas_cumprod[t]
        raise ValueError(f"unknown SDS weighting {self.config.weighting!r}")

    def __call__(
        self, rgb: torch.Tensor, views: list[ViewContext], fraction: float, generator: torch.Generator
    ) -> SDSStep:
        x = self.prior.encode(rgb)
        batch = x.shape[0]
        t_min, t_max = self.t_range(fraction)
        t = torch.randint(t_min, t_max + 1, (batch,), generator=generator).to(x.device)
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float32).to(device=x.device, dtype=x.dtype)
        alphabar = self.prior.alphas_cumprod[t].to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        with torch.no_grad():
            noisy = alphabar.sqrt() * x.detach() + (1.0 - alphabar).sqrt() * noise
            eps_hat = self.prior.predict_noise(noisy, t, views, self.guidance_scale)
            w = self.weight(t).to(x.dtype).view_as(alphabar)
            gradient = w * (eps_hat.to(x.dtype) - noise)  # not finite: the step is skipped (optimizer.descend)
        target = (x - gradient).detach()
        loss = 0.5 * ((x - target) ** 2).sum() / batch
        return SDSStep(loss=loss, gradient=gradient, t=t)
