"""Volume rendering of the field with the paper's shading, over a background.

Two passes: a cheap one without gradients reads only density at every sample, and the full one (density,
albedo, normals, with gradients) reads only the samples that can matter: those a ray still sees
(transmittance above ``RenderConfig.min_transmittance``) with some density (optical depth above
``min_optical_depth``). Behind an opaque surface, and in empty space, a sample's image gradient vanishes
(the density derivative of softplus and of the Laplace CDF is as small as the density there), so skipping
them changes the image by less than those thresholds and saves most of the step: a converged object is a
thin shell a few samples deep. Everything after the transmittance (albedo, normals, shading, compositing, the
orientation loss) runs on those samples alone, as a flat list, and is summed onto its rays: the skipped
samples have zero weight, so the result is the dense one's, for a fraction of the work.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .cameras import Cameras
from .config import RenderConfig, ShadingConfig
from .field.base import Field
from .shading import ShadingMode, composite, shade, shadow_rays

SPREAD_EIKONAL_POINTS = 2048  # "directional" SDF density: samples anywhere on the rays that the eikonal term reads
_SHADOWED_OPACITY = 1e-3  # rays with less opacity than this get no shadow ray
# Rays a preview or turntable frame marches at a time: one 64 px training view's, so a 128 px frame (16,384 rays)
# holds no more than a step does. Measured (bench/results/hash-grid/README.md), peak RAM of one frame of the hash-grid
# field at its start, where the most samples show: the learned recipes' encoding 7.5 GB in one piece before, 2.2 GB
# in chunks now (with the field's leaner evaluation); the offline defaults 1.1 GB in one piece, 0.6 GB in chunks.
IMAGE_RAY_CHUNK = 4096


@dataclass
class MarchedSamples:
    """The K samples that can show in the image, of the rays that met the field's bounding sphere (what the
    orientation and eikonal terms read); every other sample has zero weight."""

    weights: torch.Tensor  # (K,) w_i = alpha_i T_i
    normals: torch.Tensor  # (K, 3) the field's normals
    directions: torch.Tensor  # (K, 3) the unit direction of each sample's ray
    ray: torch.Tensor  # (K,) each sample's ray, an index into the marched rays
    marched_rays: int  # the rays that met the sphere
    total_rays: int  # every ray of the batch, the marched ones and those that missed the sphere
    # (K,) |grad s| at the samples (with "directional" SDF density, and at a stride of every sample); SDF fields only
    visible_gradient_norm: torch.Tensor | None


@dataclass
class Rendering:
    """Images (B, 3, H, W) / (B, 1, H, W) plus the marched samples they were composited from."""

    rgb: torch.Tensor
    opacity: torch.Tensor
    depth: torch.Tensor
    samples: MarchedSamples


def ray_sphere(origins: torch.Tensor, directions: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry and exit distances of unit-direction rays through the sphere of ``radius`` (exit <= entry: a miss)."""
    b = (origins * directions).sum(dim=-1)
    c = (origins * origins).sum(dim=-1) - radius**2
    disc = b * b - c
    root = disc.clamp_min(0.0).sqrt()
    near = (-b - root).clamp_min(0.0)
    far = torch.where(disc > 0, -b + root, torch.zeros_like(b))
    return near, far


def render(
    field: Field,
    cameras: Cameras,
    mode: ShadingMode,
    render_config: RenderConfig,
    shading_config: ShadingConfig,
    resolution: int | None = None,
    generator: torch.Generator | None = None,
    background: torch.Tensor | None = None,
    ray_chunk: int | None = None,
) -> Rendering:
    """Render every camera at ``resolution`` (default: the config's) over ``background`` (3,) (default: the
    shading config's fixed one). Stratified jitter needs ``generator``.

    Only rays that meet the bounding sphere (radius = the field's bound; objects fit well inside it)
    are marched: in wide shots most pixels are background, and skipping them is the largest saving.
    ``ray_chunk`` marches that many rays at a time (a ray's result depends on its own samples alone, so the image
    is the same): without gradients, memory then follows the chunk instead of the frame. With gradients every
    chunk's graph is kept until the backward pass, so chunks would not save memory there.
    """
    size = resolution or render_config.resolution
    batch = len(cameras)
    all_origins, all_directions = cameras.rays(size)
    all_origins, all_directions = all_origins.reshape(-1, 3), all_directions.reshape(-1, 3)
    near, far = ray_sphere(all_origins, all_directions, field.bound)
    hit = (far > near).nonzero().squeeze(1)
    origins, directions = all_origins[hit], all_directions[hit]
    near, length = near[hit], (far - near)[hit]
    light = cameras.light[hit // (size * size)]

    samples = render_config.samples_per_ray
    if generator is not None and render_config.jitter:
        offsets = torch.rand(all_origins.shape[0], samples, generator=generator).to(origins.device)[hit]
    else:
        offsets = torch.full((origins.shape[0], samples), 0.5, device=origins.device)
    chunk = ray_chunk or max(len(origins), 1)
    parts = [
        _march(
            field,
            _Rays(origins[at], directions[at], near[at], length[at], offsets[at], light[at]),
            mode,
            render_config,
            shading_config,
            generator,
        )
        for at in (slice(start, start + chunk) for start in range(0, max(len(origins), 1), chunk))
    ]
    gradient_norms = [norm for part in parts if (norm := part.samples.visible_gradient_norm) is not None]
    marched = MarchedSamples(
        torch.cat([part.samples.weights for part in parts]),
        torch.cat([part.samples.normals for part in parts]),
        torch.cat([part.samples.directions for part in parts]),
        torch.cat([part.samples.ray + index * chunk for index, part in enumerate(parts)]),
        len(origins),
        all_origins.shape[0],
        torch.cat(gradient_norms) if gradient_norms else None,
    )
    rays = all_origins.shape[0]

    def scatter(chunks: list[torch.Tensor]) -> torch.Tensor:
        """Per-hit-ray values, chunk by chunk, back onto every ray (rays, C); missed rays are empty."""
        values = torch.cat(chunks)
        return values.new_zeros(rays, values.shape[-1]).index_copy(0, hit, values)

    def image(values: torch.Tensor) -> torch.Tensor:
        return values.reshape(batch, size, size, -1).permute(0, 3, 1, 2)

    full_opacity = scatter([part.opacity for part in parts])
    background = shading_config.background if background is None else background
    rgb = composite(scatter([part.color for part in parts]), full_opacity, background)
    return Rendering(image(rgb), image(full_opacity), image(scatter([part.depth for part in parts])), marched)


@dataclass
class _Rays:
    """Rays that met the bounding sphere: origins, unit directions (R, 3), entry distance and length inside the
    sphere (R,), stratified offsets (R, S) and each ray's light (R, 3)."""

    origins: torch.Tensor
    directions: torch.Tensor
    near: torch.Tensor
    length: torch.Tensor
    offsets: torch.Tensor
    light: torch.Tensor


@dataclass
class _MarchedRays:
    """What marching some rays gives: their shaded color (R, 3), opacity and depth (R, 1), and their samples."""

    color: torch.Tensor
    opacity: torch.Tensor
    depth: torch.Tensor
    samples: MarchedSamples


def _march(
    field: Field,
    rays: _Rays,
    mode: ShadingMode,
    render_config: RenderConfig,
    shading_config: ShadingConfig,
    generator: torch.Generator | None,
) -> _MarchedRays:
    """Sample, read the field at the visible samples, composite and shade a set of rays (``generator``: the run's,
    for eikonal points spread over the whole ball)."""
    origins, directions = rays.origins, rays.directions
    samples = render_config.samples_per_ray
    steps = torch.arange(samples, dtype=torch.float32, device=origins.device)
    t = rays.near.unsqueeze(-1) + rays.length.unsqueeze(-1) * (steps + rays.offsets) / samples
    points = origins.unsqueeze(1) + directions.unsqueeze(1) * t.unsqueeze(-1)

    delta = (rays.length / samples).unsqueeze(-1)
    visible = _visible_samples(field, points, delta, render_config)
    ray, visible_points = visible[0], points[visible]
    kept = field(visible_points)
    kept_density = kept.density
    gradient_norm = kept.gradient_norm
    if render_config.sdf_density == "directional" and gradient_norm is not None:
        # NeuS: density -dPsi(s)/dt / Psi(s) is VolSDF's times -d . grad s; it is zero where s does not fall along
        # the ray, so a grazing ray's path beside a face adds nothing (VolSDF's tail there grows silhouettes by 15%).
        falling = -(kept.normals * directions[ray]).sum(dim=-1) * gradient_norm
        kept_density = kept_density * falling.clamp_min(0.0)
        if torch.is_grad_enabled():
            # A region where s is flat then renders empty whatever its sign, so the eikonal term must also hold where
            # nothing shows (NeuS applies it at every sample): points spread over the rays (or the whole ball, with
            # ``eikonal_points`` = "sphere") join the visible ones. Only a training render feeds that term: previews
            # and turntables (no gradients, marched in chunks) skip the extra field reads.
            spread = field(eikonal_points(points, field.bound, render_config.eikonal_points, generator)).gradient_norm
            gradient_norm = torch.cat([gradient_norm, spread]) if spread is not None else gradient_norm
    density = kept_density.new_zeros(points.shape[:-1]).index_put(visible, kept_density)
    alpha = 1.0 - torch.exp(-density * delta)
    transmittance = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha + 1e-10], dim=1), dim=1)
    weights = alpha * transmittance[:, :-1]
    sample_weights = weights[visible].unsqueeze(-1)

    opacity = weights.sum(dim=1, keepdim=True)
    depth = (weights * t).sum(dim=1, keepdim=True)

    def per_ray(values: torch.Tensor) -> torch.Tensor:
        """The weighted sum of per-sample values (K, C) along each marched ray: (R, C)."""
        weighted = sample_weights * values
        return weighted.new_zeros(len(origins), values.shape[-1]).index_add(0, ray, weighted)

    def ray_surface() -> tuple[torch.Tensor, torch.Tensor]:
        """Each marched ray's expected surface point and its mean normal (R, 3), (R, 3)."""
        normal = per_ray(kept.normals)
        normal = normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return origins + directions * (depth / opacity.clamp_min(1e-6)), normal

    light = rays.light
    visibility = None
    if shading_config.shadows and mode is not ShadingMode.AMBIENT:
        visibility = light_transmittance(field, *ray_surface(), opacity, light, render_config.shadow_samples)
    if mode is ShadingMode.AMBIENT:
        accumulated = per_ray(kept.albedo)
    elif render_config.shading == "per-sample":
        # The paper's order: each sample lit at its own normal and position, then composited. The default, by
        # measurement (bench quality, balanced preset, seed 0): IoU 0.977 / 0.988 / 0.976 / 0.869 / 0.474 on the cube,
        # sphere, duck, chair and mug (mean 0.857); deferred shading gave 0.977 / 0.988 / 0.975 / 0.851 / 0.478
        # (0.854). The chair, whose thin legs make it the noisiest, decides it; bench/REPORT.md has both.
        # A ray's samples share the light's visibility from its expected surface point.
        shadow = None if visibility is None else visibility[ray]
        colors = shade(kept.albedo, kept.normals, visible_points, light[ray], mode, shading_config, None, shadow)
        accumulated = per_ray(colors)
    else:
        # Deferred: the ray lit once, at its mean normal and expected surface point.
        surface, normal = ray_surface()
        accumulated = shade(per_ray(kept.albedo), normal, surface, light, mode, shading_config, opacity, visibility)

    marched = MarchedSamples(
        sample_weights.squeeze(-1), kept.normals, directions[ray], ray, len(origins), len(origins), gradient_norm
    )
    return _MarchedRays(accumulated, opacity, depth, marched)


def eikonal_points(points: torch.Tensor, bound: float, where: str, generator: torch.Generator | None) -> torch.Tensor:
    """Up to SPREAD_EIKONAL_POINTS points (N, 3) where the eikonal term holds beyond the visible samples: an even
    stride of the ray samples ``points`` (R, S, 3), or (``where`` = "sphere", with a generator) uniform in the ball
    of ``bound``."""
    if where == "sphere" and generator is not None:
        direction = torch.randn(SPREAD_EIKONAL_POINTS, 3, generator=generator)
        radius = bound * torch.rand(SPREAD_EIKONAL_POINTS, 1, generator=generator) ** (1.0 / 3.0)
        return (direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-12) * radius).to(points.device)
    flat = points.reshape(-1, 3)
    return flat[:: -(-flat.shape[0] // SPREAD_EIKONAL_POINTS)]


@torch.no_grad()
def _visible_samples(
    field: Field, points: torch.Tensor, delta: torch.Tensor, config: RenderConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ray, sample) indices, in ray order, of the samples of ``points`` (R, S, 3) that can show in the image:
    some density over their step, and a ray that still sees them."""
    depth = field.density(points) * delta
    seen = torch.exp(-(torch.cumsum(depth, dim=1) - depth))  # transmittance in front of each sample
    return ((seen > config.min_transmittance) & (depth > config.min_optical_depth)).nonzero(as_tuple=True)


@torch.no_grad()
def light_transmittance(
    field: Field,
    surface: torch.Tensor,
    normal: torch.Tensor,
    opacity: torch.Tensor,
    light: torch.Tensor,
    samples: int,
) -> torch.Tensor:
    """(R, 1) transmittance from each ray's expected surface point to its light, through the field's density
    up to the light or the bounding sphere. Held constant in the gradient: a shadow tells the image where the
    object is open or closed, and the field answers through what its own rays see, not by growing occluders.
    Rays that see (almost) nothing get 1."""
    visibility = torch.ones_like(opacity)
    lit = (opacity[:, 0] > _SHADOWED_OPACITY).nonzero().squeeze(1)
    origins, directions, distance = shadow_rays(surface[lit], normal[lit], light[lit])
    length = torch.minimum(distance, ray_sphere(origins, directions, field.bound)[1])
    steps = (torch.arange(samples, dtype=origins.dtype, device=origins.device) + 0.5) / samples
    t = length.unsqueeze(-1) * steps
    points = origins.unsqueeze(1) + directions.unsqueeze(1) * t.unsqueeze(-1)
    optical_depth = (field.density(points) * (length / samples).unsqueeze(-1)).sum(dim=1, keepdim=True)
    return visibility.index_copy(0, lit, torch.exp(-optical_depth))


@torch.no_grad()
def render_image(
    field: Field,
    cameras: Cameras,
    mode: ShadingMode,
    render_config: RenderConfig,
    shading_config: ShadingConfig,
    resolution: int,
    ray_chunk: int = IMAGE_RAY_CHUNK,
) -> torch.Tensor:
    """A no-gradient render for previews and turntables, one camera and ``ray_chunk`` rays at a time to bound
    memory: (B, 3, H, W)."""
    frames = [
        render(field, cameras[i], mode, render_config, shading_config, resolution=resolution, ray_chunk=ray_chunk).rgb
        for i in range(len(cameras))
    ]
    return torch.cat(frames).clamp(0.0, 1.0)
