"""The paper's shading model, shared by the NeRF renderer and the procedural prior's renderer.

c = rho * (l_rho * max(0, n . (l - mu) / ||l - mu||) + l_a), with three modes:
colored (albedo, ambient + diffuse), textureless (rho = 1, ambient + diffuse) and
ambient-only (l_a = 1, l_rho = 0). With ``ShadingConfig.shadows`` the diffuse term is also multiplied by the
light's visibility from the point (beyond the paper, which has no shadows: without them the inside of a mug
looks like a lid lit from above, so nothing in a render tells an opening from a cap).
"""

from __future__ import annotations

from enum import StrEnum

import torch

from .config import ShadingConfig


class ShadingMode(StrEnum):
    COLORED = "colored"
    TEXTURELESS = "textureless"
    AMBIENT = "ambient"


# Shadow rays start this far off the surface along its normal, clear of the surface's own soft shell (four
# Laplace scales of the signed-distance field's density), so a lit face does not shadow itself.
SHADOW_OFFSET = 0.08


def lighting(
    normals: torch.Tensor,
    points: torch.Tensor,
    light: torch.Tensor,
    config: ShadingConfig,
    visibility: torch.Tensor | None = None,
) -> torch.Tensor:
    """l_rho * V * max(0, n . (l - mu) / ||l - mu||) + l_a, shape (..., 1); V (..., 1) is the light's
    visibility from each point (1 when None: no shadows)."""
    to_light = light - points
    to_light = to_light / to_light.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    lambert = (normals * to_light).sum(dim=-1, keepdim=True).clamp_min(0.0)
    if visibility is not None:
        lambert = lambert * visibility
    return config.diffuse * lambert + config.ambient


def shadow_rays(
    points: torch.Tensor, normals: torch.Tensor, light: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rays from surface ``points`` (..., 3) toward ``light`` (broadcastable): origins (..., 3) lifted off the
    surface by ``SHADOW_OFFSET``, unit directions (..., 3) and the distance to the light (...)."""
    origins = points + SHADOW_OFFSET * normals
    to_light = light - origins
    distance = to_light.norm(dim=-1)
    return origins.expand_as(to_light), to_light / distance.clamp_min(1e-8).unsqueeze(-1), distance


def shade(
    albedo: torch.Tensor,
    normals: torch.Tensor,
    points: torch.Tensor,
    light: torch.Tensor,
    mode: ShadingMode,
    config: ShadingConfig,
    opacity: torch.Tensor | None = None,
    visibility: torch.Tensor | None = None,
) -> torch.Tensor:
    """Color (..., 3) of ``albedo`` lit at ``points`` with ``normals``; ``light`` broadcastable to them.

    For a surface point ``opacity`` is None (1). Deferred shading passes a ray's opacity-weighted albedo and
    its opacity, shaded once at its mean normal and expected surface point; textureless renders use white
    albedo (= opacity). ``light`` (and ``visibility``, see ``lighting``) may carry leading dimensions of their
    own (several lights at once).
    """
    if mode is ShadingMode.AMBIENT:
        return albedo
    intensity = lighting(normals, points, light, config, visibility)
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
