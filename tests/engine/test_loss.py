"""The loss of one step: each named term is its formula, weighted by its schedule, and the terms sum to the total."""

from __future__ import annotations

import math

import pytest
import torch

from engine.cameras import orbit_cameras
from engine.config import CameraConfig, FieldConfig, RegularizerConfig, RenderConfig, ShadingConfig
from engine.field.grid import GridField
from engine.field.sdf_grid import SDFGridField
from engine.guidance.sds import SDSStep
from engine.loss import TERMS, LossInputs, orientation_weight, step_loss
from engine.renderer import render
from engine.shading import ShadingMode

FRACTION = 1.0 / 6.0  # halfway through the orientation weight's anneal (over the first third)
REGULARIZERS = RegularizerConfig(opacity_weight=0.3, smoothness_weight=0.05, curvature_weight=0.01)


def _sds_step(rgb: torch.Tensor) -> SDSStep:
    """An SDS evaluation of ``rgb`` in its surrogate form 0.5 ||x - stopgrad(x - g)||^2 / B, with g = 0.1."""
    gradient = torch.full_like(rgb, 0.1)
    loss = 0.5 * ((rgb - (rgb - gradient).detach()) ** 2).sum() / rgb.shape[0]
    return SDSStep(loss=loss, gradient=gradient, t=torch.zeros(rgb.shape[0], dtype=torch.long))


def _case(regularizers: RegularizerConfig = REGULARIZERS):  # type: ignore[no-untyped-def]
    """A small random grid field rendered from two cameras, its SDS step, and the loss's breakdown of them."""
    torch.manual_seed(0)
    field = GridField(FieldConfig(grid_resolutions=(4, 8), coarse_to_fine_fraction=0.0))
    with torch.no_grad():
        for level in field.parameters():
            level.normal_(0.0, 1.0)
    cameras = orbit_cameras(CameraConfig(), [10.0, 150.0])
    rendering = render(field, cameras, ShadingMode.COLORED, RenderConfig(samples_per_ray=12), ShadingConfig(), 6)
    score = _sds_step(rendering.rgb)
    losses = step_loss(LossInputs(rendering, score, field), FRACTION, regularizers)
    return field, rendering, score, losses


def test_every_term_is_named_and_the_terms_sum_to_the_total() -> None:
    *_, losses = _case()
    assert (
        list(losses.terms)
        == [term.name for term in TERMS]
        == ["sds", "orientation", "opacity", "smoothness", "eikonal", "curvature"]
    )
    assert all(value.item() > 0 for name, value in losses.terms.items() if name not in ("eikonal", "curvature"))
    assert losses.terms["eikonal"].item() == 0.0  # a density grid has no distance to keep unit
    assert losses.terms["curvature"].item() == 0.0  # nor a surface curvature
    torch.testing.assert_close(sum(losses.terms.values()), losses.total, rtol=1e-6, atol=0)
    floats = losses.as_floats()
    assert floats == pytest.approx({name: value.item() for name, value in losses.terms.items()})


def test_the_sds_term_is_the_estimators_surrogate_loss_unweighted() -> None:
    _, rendering, score, losses = _case()
    # 0.5 ||g||^2 / B: 0.1^2 / 2 per pixel and channel of one image.
    expected = 0.5 * 0.01 * rendering.rgb[0].numel()
    assert score.loss.item() == pytest.approx(expected)
    assert losses.terms["sds"].item() == pytest.approx(expected)


def test_the_orientation_term_is_the_weighted_back_facing_normals() -> None:
    _, rendering, _, losses = _case()
    samples = rendering.samples
    total = 0.0
    for i in range(samples.weights.shape[0]):
        facing = float(samples.normals[i].detach() @ samples.directions[i])
        total += float(samples.weights[i].detach()) * max(0.0, facing) ** 2
    assert samples.total_rays == 2 * 6 * 6
    weight = math.exp(math.log(1e-4) + 0.5 * (math.log(1e-2) - math.log(1e-4)))  # half-way in log space
    assert orientation_weight(FRACTION, REGULARIZERS) == pytest.approx(weight) == pytest.approx(1e-3)
    assert losses.terms["orientation"].item() == pytest.approx(weight * total / samples.total_rays, rel=1e-5)


def test_the_opacity_term_is_the_mean_of_sqrt_acc_squared_plus_a_hundredth() -> None:
    _, rendering, _, losses = _case()
    samples = rendering.samples
    accumulated = [0.0] * samples.marched_rays  # the rays that met the sphere
    for ray, weight in zip(samples.ray.tolist(), samples.weights.detach().tolist(), strict=True):
        accumulated[ray] += weight
    missed = samples.total_rays - samples.marched_rays  # empty: acc = 0
    mean = (sum(math.sqrt(a * a + 0.01) for a in accumulated) + missed * 0.1) / rendering.samples.total_rays
    assert losses.terms["opacity"].item() == pytest.approx(0.3 * mean, rel=1e-5)


def test_the_smoothness_term_is_the_grid_densitys_squared_neighbour_differences() -> None:
    field, _, _, losses = _case()
    expected = 0.0
    for level in field.geometry:
        d = level.detach()[0, 0]  # raw density, (r, r, r)
        expected += ((d[1:] - d[:-1]) ** 2).mean().item()
        expected += ((d[:, 1:] - d[:, :-1]) ** 2).mean().item()
        expected += ((d[:, :, 1:] - d[:, :, :-1]) ** 2).mean().item()
    assert losses.terms["smoothness"].item() == pytest.approx(0.05 * expected, rel=1e-5)


def test_a_term_weighted_zero_is_reported_as_zero_and_left_out() -> None:
    *_, losses = _case(
        RegularizerConfig(orientation_weight=0.0, opacity_weight=0.0, smoothness_weight=0.0, eikonal_weight=0.0)
    )
    assert [losses.terms[name].item() for name in ("orientation", "opacity", "smoothness")] == [0.0, 0.0, 0.0]
    assert torch.equal(losses.total, losses.terms["sds"])


def test_the_total_carries_every_terms_gradient_to_the_field() -> None:
    field, *_, losses = _case()
    losses.total.backward()
    assert all(level.grad is not None and level.grad.abs().sum() > 0 for level in field.parameters())


def test_the_eikonal_term_is_zero_for_a_distance_and_one_for_a_doubled_distance() -> None:
    """The start sphere is an exact distance (|grad s| = 1); adding a second sphere distance doubles the
    gradient, so (|grad s| - 1)^2 = 1 at the surface samples the render sees."""
    field = SDFGridField(FieldConfig(grid_resolutions=(32,), coarse_to_fine_fraction=0.0))
    cameras = orbit_cameras(CameraConfig(), [10.0, 150.0])

    def eikonal_term() -> float:
        rendering = render(field, cameras, ShadingMode.COLORED, RenderConfig(samples_per_ray=32), ShadingConfig(), 8)
        assert rendering.samples.visible_gradient_norm is not None
        assert rendering.samples.visible_gradient_norm.shape[0] > 0
        return (
            step_loss(LossInputs(rendering, _sds_step(rendering.rgb), field), FRACTION, REGULARIZERS)
            .terms["eikonal"]
            .item()
        )

    assert eikonal_term() == pytest.approx(0.0, abs=1e-6)
    axis = torch.linspace(-field.bound, field.bound, 32)
    radius = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij")).norm(dim=0)
    with torch.no_grad():
        field.geometry[0][0, 0] = radius - 0.5
    assert eikonal_term() == pytest.approx(REGULARIZERS.eikonal_weight * 1.0, rel=0.05)


def _sdf_lattice(resolution: int) -> tuple[SDFGridField, torch.Tensor]:
    """A one-level signed-distance grid field and its lattice points (z, y, x, 3) in (x, y, z) coordinates."""
    field = SDFGridField(FieldConfig(grid_resolutions=(resolution,), coarse_to_fine_fraction=0.0))
    axis = torch.linspace(-field.bound, field.bound, resolution)
    return field, torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).flip(-1)


def test_the_curvature_term_is_a_spheres_mean_curvature_and_zero_for_a_plane() -> None:
    """The start sphere of radius 0.5 has Laplacian 2 / r = 4 at its surface; a grid that turns it into the plane
    x = 0.1 (s = x - 0.1) has none; a voxel-scale ripple on that plane adds its second difference."""
    field, lattice = _sdf_lattice(33)
    assert field.curvature().item() == pytest.approx(4.0, rel=0.05)
    start = lattice.norm(dim=-1) - field.init_radius
    plane = lattice[..., 0] - 0.1
    with torch.no_grad():
        field.geometry[0][0, 0] = plane - start
    assert field.curvature().item() == pytest.approx(0.0, abs=1e-3)
    spacing = 2.0 * field.bound / 32
    ripple = 0.01 * spacing * torch.cos(torch.pi * torch.arange(33.0) / 1.0)  # +-1 % of a voxel along y, period 2
    with torch.no_grad():
        field.geometry[0][0, 0] = plane + ripple[None, :, None] - start
    # Along y each lattice point's neighbours are both -r where it is +r: |(-2r - 2r) / h^2| = 4 r / h^2.
    assert field.curvature().item() == pytest.approx(4 * 0.01 * spacing / spacing**2, rel=0.02)


def test_the_curvature_term_is_weighted_and_reaches_every_level() -> None:
    field = SDFGridField(FieldConfig(grid_resolutions=(8, 16), coarse_to_fine_fraction=0.0))
    cameras = orbit_cameras(CameraConfig(), [10.0])
    rendering = render(field, cameras, ShadingMode.COLORED, RenderConfig(samples_per_ray=16), ShadingConfig(), 6)
    losses = step_loss(LossInputs(rendering, _sds_step(rendering.rgb), field), FRACTION, REGULARIZERS)
    assert losses.terms["curvature"].item() == pytest.approx(0.01 * field.curvature().item(), rel=1e-6)
    losses.terms["curvature"].backward()
    assert all(level.grad is not None and level.grad.abs().sum() > 0 for level in field.geometry)
