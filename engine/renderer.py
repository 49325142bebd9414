"""Volume rendering of the field with the paper's shading, over a fixed background."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .cameras import Cameras
from .config import RenderConfig, ShadingConfig
from .field.base import Field
from .shading import ShadingMode, composite, shade


@dataclass
class Rendering:
    """Images (B, 3, H, W) / (B, 1, H, W) plus what the regularisers need."""

    rgb: torch.Tensor
    opacity: torch.Tensor
    depth: torch.Tensor
    orientation: torch.Tensor  # scalar: sum_i stopgrad(w_i) max(0, n_i . d)^2, mean over rays
    opacity_penalty: torch.Tensor  # scalar: mean sqrt(acc^2 + 0.01)


def ray_box(origins: torch.Tensor, directions: torch.Tensor, bound: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry and exit distances of rays through the box [-bound, bound]^3 (exit <= entry: a miss)."""
    safe = torch.where(directions.abs() < 1e-9, torch.full_like(directions, 1e-9), directions)
    t0 = (-bound - origins) / safe
    t1 = (bound - origins) / safe
    near = torch.minimum(t0, t1).amax(dim=-1).clamp_min(0.0)
    far = torch.maximum(t0, t1).amin(dim=-1)
    return near, far


def render(
    field: Field,
    cameras: Cameras,
    mode: ShadingMode,
    render_config: RenderConfig,
    shading_config: ShadingConfig,
    resolution: int | None = None,
    generator: torch.Generator | None = None,
) -> Rendering:
    """Render every camera at ``resolution`` (default: the config's). Stratified jitter needs ``generator``."""
    size = resolution or render_config.resolution
    batch = len(cameras)
    origins, directions = cameras.rays(size)
    origins, directions = origins.reshape(-1, 3), directions.reshape(-1, 3)
    near, far = ray_box(origins, directions, field.bound)
    hit = far > near
    length = torch.where(hit, far - near, torch.zeros_like(far))

    samples = render_config.samples_per_ray
    steps = torch.arange(samples, dtype=torch.float32, device=origins.device)
    if generator is not None and render_config.jitter:
        offsets = torch.rand(origins.shape[0], samples, generator=generator).to(origins.device)
    else:
        offsets = torch.full((origins.shape[0], samples), 0.5, device=origins.device)
    t = near.unsqueeze(-1) + length.unsqueeze(-1) * (steps + offsets) / samples
    points = origins.unsqueeze(1) + directions.unsqueeze(1) * t.unsqueeze(-1)

    sample = field(points)
    delta = (length / samples).unsqueeze(-1)
    alpha = 1.0 - torch.exp(-sample.density * delta)
    transmittance = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha + 1e-10], dim=1), dim=1)
    weights = alpha * transmittance[:, :-1]

    light = cameras.light.repeat_interleave(size * size, dim=0).unsqueeze(1)
    colour = shade(sample.albedo, sample.normals, points, light, mode, shading_config)
    accumulated = (weights.unsqueeze(-1) * colour).sum(dim=1)
    opacity = weights.sum(dim=1, keepdim=True)
    depth = (weights * t).sum(dim=1, keepdim=True)
    rgb = composite(accumulated, opacity, shading_config.background)

    facing = (sample.normals * directions.unsqueeze(1)).sum(dim=-1).clamp_min(0.0)
    orientation = (weights.detach() * facing**2).sum(dim=1).mean()
    opacity_penalty = torch.sqrt(opacity**2 + 0.01).mean()

    def image(values: torch.Tensor) -> torch.Tensor:
        return values.reshape(batch, size, size, -1).permute(0, 3, 1, 2)

    return Rendering(image(rgb), image(opacity), image(depth), orientation, opacity_penalty)


@torch.no_grad()
def render_image(
    field: Field,
    cameras: Cameras,
    mode: ShadingMode,
    render_config: RenderConfig,
    shading_config: ShadingConfig,
    resolution: int,
) -> torch.Tensor:
    """A no-gradient render for previews and turntables, one camera at a time to bound memory: (B, 3, H, W)."""
    frames = [
        render(field, cameras[i], mode, render_config, shading_config, resolution=resolution).rgb
        for i in range(len(cameras))
    ]
    return torch.cat(frames).clamp(0.0, 1.0)
