"""The paper's shading model, shared by the NeRF renderer and the procedural prior's renderer.

c = rho * (l_rho * max(0, n . (l - mu) / ||l - mu||) + l_a), with three modes:
colored (albedo, ambient + diffuse), textureless (rho = 1, ambient + diffuse) and
ambient-only (l_a = 1, l_rho = 0).
"""

from __future__ import annotations

from enum import StrEnum

import torch

from .config import ShadingConfig


class ShadingMode(StrEnum):
    COLORED = "colored"
    TEXTURELESS = "textureless"
    AMBIENT = "ambient"


def lighting(normals: torch.Tensor, points: torch.Tensor, light: torch.Tensor, config: ShadingConfig) -> torch.Tensor:
    """l_rho * max(0, n . (l - mu) / ||l - mu||) + l_a, shape (..., 1)."""
    to_light = light - points
    to_light = to_light / to_light.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    lambert = (normals * to_light).sum(dim=-1, keepdim=True).clamp_min(0.0)
    return config.diffuse * lambert + config.ambient


def shade(
    albedo: torch.Tensor,
    normals: torch.Tensor,
    points: torch.Tensor,
    light: torch.Tensor,
    mode: ShadingMode,
    config: ShadingConfig,
    opacity: torch.Tensor | None = None,
) -> torch.Tensor:
    """Color (..., 3) of ``albedo`` lit at ``points`` with ``normals``; ``light`` broadcastable to them.

    For a surface point ``opacity`` is None (1). Deferred shading passes a ray's opacity-weighted albedo and
    its opacity, shaded once at its mean normal and expected surface point; textureless renders use white
    albedo (= opacity). ``light`` may carry leading dimensions of its own (several lights at once).
    """
    if mode is ShadingMode.AMBIENT:
        return albedo
    intensity = lighting(normals, points, light, config)
    if mode is ShadingMode.TEXTURELESS:
        coverage = torch.ones_like(albedo[..., :1]) if opacity is None else opacity
        white = coverage * intensity
        return white.expand((*torch.broadcast_shapes(white.shape[:-1], albedo.shape[:-1]), 3))
    return albedo * intensity


def sample_mode(step: int, total: int, config: ShadingConfig, generator: torch.Generator) -> ShadingMode:
    """Ambient-only during warm-up, then shaded with probability 0.75 (textureless half of those)."""
    if step < config.ambient_warmup_fraction * total:
        return ShadingMode.AMBIENT
    shaded, textureless = torch.rand(2, generator=generator).tolist()
    if shaded >= config.shaded_prob:
        return ShadingMode.AMBIENT
    return ShadingMode.TEXTURELESS if textureless < config.textureless_prob else ShadingMode.COLORED


def composite(
    color: torch.Tensor, opacity: torch.Tensor, background: tuple[float, float, float] | torch.Tensor
) -> torch.Tensor:
    """Composite an accumulated (premultiplied) color over a background color (3,)."""
    bg = torch.as_tensor(background, dtype=color.dtype, device=color.device)
    return color + (1.0 - opacity) * bg
