"""A scene's SDF, albedo and normals sampled once on a grid, then sphere traced with ``grid_sample``.

The camera-conditioned prior renders the prompt's scene at every training camera, so a render must
cost milliseconds, not the analytic SDF's hundred: evaluating dozens of primitives at every step of
every ray is what the analytic tracer (raymarch.py) pays. Baked once per scene when a run starts (seconds:
one SDF evaluation per grid point), a trace is one trilinear lookup per step of the rays still marching.
The grid is fine enough (BAKE_RESOLUTION over the scene's sphere, ~1.2 cm) that renders match the
analytic ones to well under one 8-bit level on average (tests/engine/test_procedural_camera_prior.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..cameras import Cameras
from ..config import ShadingConfig
from ..shading import ShadingMode, composite, shade
from ..stage_progress import Progress, no_progress
from .raymarch import SurfaceHits, light_visibility
from .raymarch import normals as analytic_normals
from .scene import Scene

BAKE_RESOLUTION = 128
_CHUNK = 1 << 18
SHARE_DISTANCE = 0.4  # of a bake's time, the distances at every grid point (measured: 0.2 s of 0.5 s)
_NEAR_SURFACE_VOXELS = 4  # albedo and normals are baked only this close to the surface (all a hit can read)
_EPSILON = 1e-3  # a ray has arrived when the distance falls below this
_LOOSE_EPSILON = 5e-3  # rays still marching at the step limit count as hits within this (grazing rays)
_STEP_FACTOR = 0.95
_MAX_STEPS = 40
_MIN_STEP_VOXELS = 0.25  # grazing rays still advance this much per step, so none lingers for the step limit


@dataclass
class BakedScene:
    """Grids over the cube [-half, half]^3 holding the scene: (1, 7, R, R, R) distance, albedo (3), normal (3)."""

    volume: torch.Tensor
    half: float

    @classmethod
    def bake(cls, scene: Scene, resolution: int = BAKE_RESOLUTION, progress: Progress = no_progress) -> BakedScene:
        """Each chunk of grid points evaluated reports the fraction done (where a stop lands): the distances
        first (SHARE_DISTANCE of the work), then albedo and normals near the surface."""
        half = scene.radius * 1.02 + 4.0 / resolution
        axis = torch.linspace(-half, half, resolution)
        z, y, x = torch.meshgrid(axis, axis, axis, indexing="ij")  # grid_sample's (D, H, W) is (z, y, x)
        points = torch.stack([x, y, z], dim=-1).reshape(-1, 3)
        with torch.no_grad():
            chunks = points.split(_CHUNK)
            distances = []
            for index, chunk in enumerate(chunks):
                distances.append(scene.distance(chunk))
                progress(SHARE_DISTANCE * (index + 1) / len(chunks))
            distance = torch.cat(distances)
            near = (distance.abs() < _NEAR_SURFACE_VOXELS * 2.0 * half / (resolution - 1)).nonzero().squeeze(1)
            albedo, normal = torch.zeros(len(points), 3), torch.zeros(len(points), 3)
            near_chunks = near.split(_CHUNK)
            for index, chunk in enumerate(near_chunks):
                albedo[chunk] = scene.albedo(points[chunk])
                normal[chunk] = analytic_normals(scene, points[chunk])
                progress(SHARE_DISTANCE + (1.0 - SHARE_DISTANCE) * (index + 1) / len(near_chunks))
        channels = torch.cat([distance[:, None], albedo, normal], dim=1).T
        return cls(channels.reshape(1, 7, resolution, resolution, resolution).contiguous(), half)

    def to(self, device: torch.device) -> BakedScene:
        return BakedScene(self.volume.to(device), self.half)

    @property
    def spacing(self) -> float:
        return 2.0 * self.half / (self.volume.shape[-1] - 1)

    def _lookup(self, channels: slice, points: torch.Tensor) -> torch.Tensor:
        grid = (points / self.half).view(1, -1, 1, 1, 3)
        volume = self.volume[:, channels]
        values = F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return values.view(volume.shape[1], -1).T

    def trace(self, origins: torch.Tensor, directions: torch.Tensor) -> SurfaceHits:
        """First hits of rays (N, 3). Only rays still marching are looked up."""
        b = (origins * directions).sum(dim=-1)
        disc = b * b - (origins.square().sum(dim=-1) - self.half * self.half)
        root = disc.clamp_min(0.0).sqrt()
        t = (-b - root).clamp_min(0.0)
        t_far = -b + root
        hit = torch.zeros_like(b, dtype=torch.bool)
        active = torch.nonzero((disc > 0) & (t_far > 0)).squeeze(-1)
        min_step = _MIN_STEP_VOXELS * self.spacing
        for _ in range(_MAX_STEPS):
            if active.numel() == 0:
                break
            distance = self._lookup(slice(0, 1), origins[active] + t[active, None] * directions[active])[:, 0]
            arrived = distance < _EPSILON
            hit[active[arrived]] = True
            t[active] += torch.where(arrived, 0.0, (_STEP_FACTOR * distance).clamp_min(min_step))
            active = active[~arrived & (t[active] < t_far[active])]
        if active.numel():
            distance = self._lookup(slice(0, 1), origins[active] + t[active, None] * directions[active])[:, 0]
            hit[active[distance < _LOOSE_EPSILON]] = True
        return SurfaceHits(hit, origins + t[:, None] * directions)

    def render(
        self,
        camera: Cameras,
        resolution: int,
        mode: ShadingMode,
        lights: torch.Tensor,
        shading: ShadingConfig,
        background: torch.Tensor,
        supersample: int = 2,
    ) -> torch.Tensor:
        """(L, 3, H, W) renders of one camera under each of ``lights`` (L, 3), over ``background`` (3,).

        Ambient renders do not depend on the light: one image is returned for them.
        """
        fine = resolution * supersample
        origins, directions = camera.rays(fine)
        flat_o, flat_d = origins.reshape(-1, 3), directions.reshape(-1, 3)
        hits = self.trace(flat_o, flat_d)
        hit, points = hits.hit, hits.points
        index = hit.nonzero().squeeze(-1)
        values = self._lookup(slice(1, 7), points[index])
        albedo, normal = values[:, :3], F.normalize(values[:, 3:], dim=-1)
        opacity = hit.to(flat_o.dtype).view(1, fine, fine, 1)
        lights = lights[:1] if mode is ShadingMode.AMBIENT else lights
        count = len(lights)
        surface, light = points[index], lights.view(count, 1, 3)
        shadowed = shading.shadows and mode is not ShadingMode.AMBIENT
        visibility = light_visibility(self.trace, surface, normal, light) if shadowed else None
        colors = torch.zeros(count, fine * fine, 3, dtype=flat_o.dtype, device=flat_o.device)
        colors[:, index] = shade(albedo, normal, surface, light, mode, shading, None, visibility)
        images = composite(colors.view(count, fine, fine, 3), opacity, background).permute(0, 3, 1, 2)
        return F.avg_pool2d(images, supersample) if supersample > 1 else images
