"""Training cameras and point lights (DreamFusion A.2), and the fixed preview orbit.

Axes are Blender's: Z up, the object's front faces -Y. Azimuth 0 looks at the front (camera
on -Y), +90 deg puts the camera on +X; elevation is the angle above the XY plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from .config import CameraConfig


@dataclass
class Cameras:
    """A batch of pinhole cameras and their lights; every tensor has batch size B."""

    position: torch.Tensor  # (B, 3) world position
    rotation: torch.Tensor  # (B, 3, 3) camera-to-world, columns: right, up, backward (OpenGL)
    fovy: torch.Tensor  # (B,) radians
    azimuth: torch.Tensor  # (B,) degrees in [-180, 180), before jitter
    elevation: torch.Tensor  # (B,) degrees, before jitter
    distance: torch.Tensor  # (B,)
    light: torch.Tensor  # (B, 3) point-light position

    def __len__(self) -> int:
        return self.position.shape[0]

    def __getitem__(self, index: int) -> Cameras:
        """The single camera ``index``, still batched (B = 1)."""
        return Cameras(*(getattr(self, f.name)[index : index + 1] for f in fields(self)))

    def to(self, device: torch.device) -> Cameras:
        """The same cameras on ``device`` (they are drawn on the CPU, from the run's CPU generator)."""
        return Cameras(*(getattr(self, f.name).to(device) for f in fields(self)))

    def rays(self, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Ray origins and unit directions, each (B, H, W, 3), through pixel centres (row 0 on top)."""
        pixels = (torch.arange(resolution, dtype=torch.float32, device=self.position.device) + 0.5) / resolution
        ys, xs = torch.meshgrid(1.0 - 2.0 * pixels, 2.0 * pixels - 1.0, indexing="ij")
        tan_half = torch.tan(self.fovy / 2).view(-1, 1, 1)
        local = torch.stack(
            [
                xs.expand(len(self), -1, -1) * tan_half,
                ys.expand(len(self), -1, -1) * tan_half,
                -torch.ones_like(xs).expand(len(self), -1, -1),
            ],
            dim=-1,
        )
        directions = torch.einsum("bij,bhwj->bhwi", self.rotation, local)
        directions = directions / directions.norm(dim=-1, keepdim=True)
        origins = self.position.view(-1, 1, 1, 3).expand_as(directions)
        return origins, directions


def spherical_to_position(
    azimuth_deg: torch.Tensor, elevation_deg: torch.Tensor, distance: torch.Tensor
) -> torch.Tensor:
    """Camera position for the azimuth/elevation convention above, (B, 3)."""
    az, el = torch.deg2rad(azimuth_deg), torch.deg2rad(elevation_deg)
    return torch.stack(
        [distance * torch.cos(el) * torch.sin(az), -distance * torch.cos(el) * torch.cos(az), distance * torch.sin(el)],
        dim=-1,
    )


def look_at(position: torch.Tensor, target: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """Camera-to-world rotations (B, 3, 3) looking from ``position`` at ``target``."""
    backward = position - target
    backward = backward / backward.norm(dim=-1, keepdim=True)
    right = torch.cross(up, backward, dim=-1)
    # Straight overhead, up and view are parallel: fall back to +Y as up.
    degenerate = right.norm(dim=-1, keepdim=True) < 1e-6
    alt = torch.cross(torch.tensor([0.0, 1.0, 0.0], device=position.device).expand_as(backward), backward, dim=-1)
    right = torch.where(degenerate, alt, right)
    right = right / right.norm(dim=-1, keepdim=True)
    true_up = torch.cross(backward, right, dim=-1)
    return torch.stack([right, true_up, backward], dim=-1)


def sample_cameras(config: CameraConfig, batch: int, generator: torch.Generator) -> Cameras:
    """Random training cameras and lights as in the paper, drawn from ``generator`` only."""

    def uniform(low: float, high: float, n: int = batch) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    el_lo, el_hi = config.elevation_range_deg
    # Half the time uniform in angle, half uniform on the sphere (uniform in sin(elevation)).
    by_angle = uniform(el_lo, el_hi)
    s_lo, s_hi = math.sin(math.radians(el_lo)), math.sin(math.radians(el_hi))
    by_area = torch.rad2deg(torch.asin(uniform(s_lo, s_hi).clamp(-1.0, 1.0)))
    on_sphere = torch.rand(batch, generator=generator) < config.uniform_sphere_prob
    elevation = torch.where(on_sphere, by_area, by_angle)
    azimuth = uniform(*config.azimuth_range_deg)
    distance = uniform(*config.distance_range)
    fovy = torch.deg2rad(uniform(*config.fovy_range_deg))

    position = spherical_to_position(azimuth, elevation, distance)
    position = position + (torch.rand(batch, 3, generator=generator) * 2 - 1) * config.position_jitter
    target = torch.randn(batch, 3, generator=generator) * config.lookat_std
    up = torch.tensor([0.0, 0.0, 1.0]) + torch.randn(batch, 3, generator=generator) * config.up_std
    rotation = look_at(position, target, up)

    light_dir = position + torch.randn(batch, 3, generator=generator) * config.light_position_std
    light_dir = light_dir / light_dir.norm(dim=-1, keepdim=True)
    light = light_dir * uniform(*config.light_distance_range).unsqueeze(-1)
    return Cameras(position, rotation, fovy, azimuth, elevation, distance, light)


def orbit_cameras(config: CameraConfig, azimuths_deg: list[float], elevation_deg: float | None = None) -> Cameras:
    """Fixed cameras on the preview orbit (for previews and turntables), light at the camera."""
    n = len(azimuths_deg)
    azimuth = torch.tensor(azimuths_deg, dtype=torch.float32)
    el = config.preview_elevation_deg if elevation_deg is None else elevation_deg
    elevation = torch.full((n,), float(el))
    distance = torch.full((n,), config.preview_distance)
    position = spherical_to_position(azimuth, elevation, distance)
    rotation = look_at(position, torch.zeros(n, 3), torch.tensor([0.0, 0.0, 1.0]).expand(n, 3))
    fovy = torch.full((n,), math.radians(config.preview_fovy_deg))
    # Key light above and to the right of the camera.
    light = spherical_to_position(azimuth + 30.0, elevation + 30.0, distance)
    return Cameras(position, rotation, fovy, azimuth, elevation, distance, light)
