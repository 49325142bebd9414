"""Signed distance primitives in torch, vectorised over points (N, 3) -> (N,).

Formulas after Inigo Quilez's catalogue ("distance functions"). Each primitive is centred at
the origin of its own frame, Z up; shapes place them with offsets. Exact ones are marked; the
others are bounds (never overestimate by much), which sphere tracing handles with a step factor.
"""

from __future__ import annotations

import torch


def sphere(p: torch.Tensor, radius: float) -> torch.Tensor:
    """Exact."""
    return p.norm(dim=-1) - radius


def ellipsoid(p: torch.Tensor, radii: tuple[float, float, float]) -> torch.Tensor:
    """A bound (iq's improved ellipsoid approximation)."""
    r = torch.tensor(radii, dtype=p.dtype, device=p.device)
    k0 = (p / r).norm(dim=-1)
    k1 = (p / (r * r)).norm(dim=-1)
    return k0 * (k0 - 1.0) / k1.clamp_min(1e-9)


def box(p: torch.Tensor, half: tuple[float, float, float], rounding: float = 0.0) -> torch.Tensor:
    """Exact; ``rounding`` rounds the edges without growing the box."""
    b = torch.tensor(half, dtype=p.dtype, device=p.device) - rounding
    q = p.abs() - b
    outside = q.clamp_min(0.0).norm(dim=-1)
    inside = q.max(dim=-1).values.clamp_max(0.0)
    return outside + inside - rounding


def cylinder(p: torch.Tensor, radius: float, half_height: float) -> torch.Tensor:
    """Exact; axis Z."""
    d = torch.stack([p[..., :2].norm(dim=-1) - radius, p[..., 2].abs() - half_height], dim=-1)
    return d.max(dim=-1).values.clamp_max(0.0) + d.clamp_min(0.0).norm(dim=-1)


def cone(p: torch.Tensor, half_height: float, bottom_radius: float, top_radius: float) -> torch.Tensor:
    """Exact capped cone, axis Z, from z = -half_height (bottom_radius) to +half_height (top_radius)."""
    h, r1, r2 = half_height, bottom_radius, top_radius
    qx = p[..., :2].norm(dim=-1)
    qy = p[..., 2]
    k2x, k2y = r2 - r1, 2.0 * h
    cax = qx - torch.minimum(qx, torch.where(qy < 0.0, torch.full_like(qx, r1), torch.full_like(qx, r2)))
    cay = qy.abs() - h
    k1x = torch.full_like(qx, r2)
    t = (((k1x - qx) * k2x + (h - qy) * k2y) / (k2x * k2x + k2y * k2y)).clamp(0.0, 1.0)
    cbx = qx - r2 + k2x * t
    cby = qy - h + k2y * t
    sign = torch.where((cbx < 0.0) & (cay < 0.0), -1.0, 1.0)
    return sign * torch.minimum(cax * cax + cay * cay, cbx * cbx + cby * cby).sqrt()


def round_cone(
    p: torch.Tensor, a: tuple[float, float, float], b: tuple[float, float, float], ra: float, rb: float
) -> torch.Tensor:
    """Exact: the hull of a sphere of radius ``ra`` at ``a`` and one of radius ``rb`` at ``b``."""
    ba = [bj - aj for aj, bj in zip(a, b, strict=True)]
    l2 = sum(c * c for c in ba)
    rr = ra - rb
    a2 = l2 - rr * rr
    il2 = 1.0 / l2
    pa = p - torch.tensor(a, dtype=p.dtype, device=p.device)
    ba_t = torch.tensor(ba, dtype=p.dtype, device=p.device)
    y = (pa * ba_t).sum(dim=-1)
    z = y - l2
    x2 = (pa * l2 - ba_t * y.unsqueeze(-1)).square().sum(dim=-1)
    y2 = y * y * l2
    z2 = z * z * l2
    k = ((rr > 0) - (rr < 0)) * rr * rr * x2
    near_b = (x2 + z2).sqrt() * il2 - rb
    near_a = (x2 + y2).sqrt() * il2 - ra
    side = ((x2 * a2 * il2).sqrt() + y * rr) * il2 - ra
    return torch.where(torch.sign(z) * a2 * z2 > k, near_b, torch.where(torch.sign(y) * a2 * y2 < k, near_a, side))


def torus(p: torch.Tensor, major: float, minor: float, axis: int = 2) -> torch.Tensor:
    """Exact; the ring lies in the plane perpendicular to ``axis`` (0: X, 1: Y, 2: Z)."""
    plane = [i for i in range(3) if i != axis]
    q = torch.stack([p[..., plane].norm(dim=-1) - major, p[..., axis]], dim=-1)
    return q.norm(dim=-1) - minor


def pyramid(p: torch.Tensor, half_base: float, height: float) -> torch.Tensor:
    """Exact square pyramid: base of half-size ``half_base`` at z = 0, apex at z = ``height``."""
    # iq's sdPyramid (Y up, base half-size 0.5), evaluated in a frame scaled by 1 / (2 * half_base).
    scale = 2.0 * half_base
    h = height / scale
    m2 = h * h + 0.25
    q = p / scale
    ax, az = q[..., 0].abs(), q[..., 1].abs()  # iq's x and z: the base plane
    ay = q[..., 2]  # iq's y: up
    ax, az = torch.maximum(ax, az) - 0.5, torch.minimum(ax, az) - 0.5
    qx = az
    qy = h * ay - 0.5 * ax
    qz = h * ax + 0.5 * ay
    s = (-qx).clamp_min(0.0)
    t = ((qy - 0.5 * az) / (m2 + 0.25)).clamp(0.0, 1.0)
    a = m2 * (qx + s).square() + qy.square()
    b = m2 * (qx + 0.5 * t).square() + (qy - m2 * t).square()
    d2 = torch.where(torch.minimum(qy, -qx * m2 - qy * 0.5) > 0.0, torch.zeros_like(a), torch.minimum(a, b))
    lateral = ((d2 + qz.square()) / m2).sqrt() * torch.sign(torch.maximum(qz, -ay))
    # Below the base plane the nearest point is on the base square (every cross-section lies above it).
    base = ((q[..., :2].abs() - 0.5).clamp_min(0.0).square().sum(dim=-1) + ay.square()).sqrt()
    return torch.where(ay < 0.0, base, lateral) * scale
