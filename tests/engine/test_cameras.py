"""Camera and light distributions (paper A.2)."""

from __future__ import annotations

import math

import pytest
import torch

from engine.cameras import look_at, orbit_cameras, sample_cameras, spherical_to_position
from engine.config import CameraConfig

CONFIG = CameraConfig()


@pytest.fixture(scope="module")
def cameras():  # type: ignore[no-untyped-def]
    return sample_cameras(CONFIG, 20000, torch.Generator().manual_seed(0))


def test_azimuth_zero_looks_at_the_front_from_minus_y() -> None:
    position = spherical_to_position(torch.tensor([0.0, 90.0]), torch.tensor([0.0, 0.0]), torch.tensor([2.0, 2.0]))
    torch.testing.assert_close(position, torch.tensor([[0.0, -2.0, 0.0], [2.0, 0.0, 0.0]]), atol=1e-6, rtol=0)


def test_rotations_are_orthonormal_and_look_at_the_target(cameras) -> None:  # type: ignore[no-untyped-def]
    r = cameras.rotation[:500]
    torch.testing.assert_close(r.transpose(1, 2) @ r, torch.eye(3).expand(500, 3, 3), atol=1e-5, rtol=0)
    # An overhead camera (up parallel to the view) still gets a valid frame.
    overhead = look_at(torch.tensor([[0.0, 0.0, 3.0]]), torch.zeros(1, 3), torch.tensor([[0.0, 0.0, 1.0]]))
    torch.testing.assert_close(overhead[0].T @ overhead[0], torch.eye(3), atol=1e-6, rtol=0)


def test_the_centre_ray_points_at_the_origin() -> None:
    camera = orbit_cameras(CONFIG, [30.0])
    origins, directions = camera.rays(64)
    centre = (directions[0, 31, 31] + directions[0, 32, 32]) / 2
    to_origin = -origins[0, 0, 0] / origins[0, 0, 0].norm()
    assert torch.dot(centre / centre.norm(), to_origin) > 0.9999


def test_ranges_follow_the_config(cameras) -> None:  # type: ignore[no-untyped-def]
    lo, hi = CONFIG.elevation_range_deg
    assert cameras.elevation.min() >= lo - 1e-4 and cameras.elevation.max() <= hi + 1e-4
    assert cameras.distance.min() >= CONFIG.distance_range[0] and cameras.distance.max() <= CONFIG.distance_range[1]
    fovy = torch.rad2deg(cameras.fovy)
    assert fovy.min() >= 40.0 - 1e-4 and fovy.max() <= 70.0 + 1e-4
    light = cameras.light.norm(dim=-1)
    assert light.min() >= CONFIG.light_distance_range[0] - 1e-4
    assert light.max() <= CONFIG.light_distance_range[1] + 1e-4


def test_azimuth_is_uniform(cameras) -> None:  # type: ignore[no-untyped-def]
    counts = torch.histc(cameras.azimuth, bins=8, min=-180, max=180)
    assert (counts / len(cameras) - 1 / 8).abs().max() < 0.015


def test_elevation_mixes_uniform_angle_and_uniform_sphere(cameras) -> None:  # type: ignore[no-untyped-def]
    # Uniform in angle alone would put 10% of cameras above 80 deg; on the sphere far fewer.
    above = (cameras.elevation > 80).float().mean().item()
    angle_only = 10 / 100
    sine = (1 - math.sin(math.radians(80))) / (1 - math.sin(math.radians(-10)))
    assert abs(above - (angle_only + sine) / 2) < 0.01


def test_light_is_near_the_camera_side(cameras) -> None:  # type: ignore[no-untyped-def]
    cosine = torch.nn.functional.cosine_similarity(cameras.light, cameras.position, dim=-1)
    assert cosine.mean() > 0.5  # centred on the camera, spread by N(0, I)
    assert (cosine < 0).any()  # but sometimes from behind


def test_sampling_is_repeatable() -> None:
    a = sample_cameras(CONFIG, 4, torch.Generator().manual_seed(9))
    b = sample_cameras(CONFIG, 4, torch.Generator().manual_seed(9))
    assert torch.equal(a.position, b.position) and torch.equal(a.light, b.light)
