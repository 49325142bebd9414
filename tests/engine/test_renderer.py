"""Volume rendering: opacity of a known density, shading modes, the background, normals."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from engine.cameras import orbit_cameras, sample_cameras
from engine.config import CameraConfig, FieldConfig, HashGridConfig, RenderConfig, SDFGridConfig, ShadingConfig
from engine.field.grid import GridField
from engine.field.hash_grid import HashGridField
from engine.field.sdf_grid import SDFGridField
from engine.loss import orientation_penalty
from engine.procedural.scene import Scene
from engine.renderer import (
    SPREAD_EIKONAL_POINTS,
    eikonal_points,
    light_transmittance,
    ray_sphere,
    render,
    render_image,
)
from engine.shading import SHADOW_OFFSET, ShadingMode


def _field(**overrides: object) -> GridField:
    field = GridField(FieldConfig(**overrides))  # type: ignore[arg-type]
    field.set_progress(1.0)
    return field


def test_ray_sphere_entry_and_exit() -> None:
    near, far = ray_sphere(torch.tensor([[0.0, -3.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0]]), 1.0)
    torch.testing.assert_close(near, torch.tensor([2.0]))
    torch.testing.assert_close(far, torch.tensor([4.0]))
    near, far = ray_sphere(torch.tensor([[0.0, -3.0, 0.6]]), torch.tensor([[0.0, 1.0, 0.0]]), 1.0)
    torch.testing.assert_close(far - near, torch.tensor([1.6]))  # chord 2 * sqrt(1 - 0.6^2)
    near, far = ray_sphere(torch.tensor([[0.0, -3.0, 1.01]]), torch.tensor([[0.0, 1.0, 0.0]]), 1.0)
    assert far <= near  # a miss


def test_opacity_matches_the_analytic_transmittance() -> None:
    # A uniform density tau over the whole field: a ray through the centre crosses the sphere's 2 units.
    field = _field(blob_strength=0.0)
    tau = 0.7
    with torch.no_grad():
        field.geometry[0][:] = math.log(math.expm1(tau))  # softplus^-1(tau)
    camera = orbit_cameras(CameraConfig(), [0.0], elevation_deg=0.0)
    out = render(field, camera, ShadingMode.AMBIENT, RenderConfig(samples_per_ray=128), ShadingConfig(), 33)
    centre = out.opacity[0, 0, 16, 16]
    assert abs(centre.item() - (1 - math.exp(-tau * 2.0))) < 1e-3


def test_background_shows_where_the_field_is_empty() -> None:
    field = _field(blob_strength=0.0)
    with torch.no_grad():
        field.geometry[0][:] = -30.0  # density softplus(-30): empty everywhere
    shading = ShadingConfig(background=(0.2, 0.4, 0.6))
    out = render(field, orbit_cameras(CameraConfig(), [0.0]), ShadingMode.COLORED, RenderConfig(), shading, 16)
    torch.testing.assert_close(out.rgb[0, :, 8, 8], torch.tensor([0.2, 0.4, 0.6]), atol=1e-3, rtol=0)


def test_modes_differ_as_the_paper_defines() -> None:
    field = _field()
    with torch.no_grad():
        field.albedo[0][:, 0] = 3.0  # albedo red: sigmoid(3) ~ 0.95
        field.albedo[0][:, 1:] = -3.0
    camera = orbit_cameras(CameraConfig(), [0.0])
    config, shading = RenderConfig(), ShadingConfig()
    ambient = render(field, camera, ShadingMode.AMBIENT, config, shading, 32).rgb[0, :, 16, 16]
    colored = render(field, camera, ShadingMode.COLORED, config, shading, 32).rgb[0, :, 16, 16]
    textureless = render(field, camera, ShadingMode.TEXTURELESS, config, shading, 32).rgb[0, :, 16, 16]
    assert ambient[0] > 0.85 and ambient[1] < 0.15  # albedo itself
    assert colored[0] < ambient[0] and colored[1] < 0.15  # shaded, still red
    assert abs(textureless[0] - textureless[1]) < 1e-4  # gray: white albedo


def test_blob_normals_point_outwards() -> None:
    field = _field()
    points = torch.tensor([[0.3, 0.0, 0.0], [0.0, -0.4, 0.1], [0.0, 0.0, -0.5]])
    normals = field(points).normals
    expected = points / points.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(normals, expected, atol=1e-4, rtol=0)


def test_grid_levels_unlock_coarse_to_fine() -> None:
    field = GridField(FieldConfig(grid_resolutions=(8, 16, 32), coarse_to_fine_fraction=0.2))
    active = []
    for fraction in (0.0, 0.09, 0.1, 0.19, 0.2, 0.9):
        field.set_progress(fraction)
        active.append(field.active_levels)
    assert active == [1, 1, 2, 2, 3, 3]


def test_sdf_beta_falls_geometrically_to_its_end_and_the_surface_level_follows() -> None:
    field = SDFGridField(FieldConfig(grid_resolutions=(4,), sdf_grid=SDFGridConfig(beta=0.02, beta_end=0.005)))
    betas = []
    for fraction in (0.0, 0.5, 1.0):
        field.set_progress(fraction)
        betas.append(field.beta)
    assert betas == pytest.approx([0.02, 0.01, 0.005])
    assert field.surface_density == pytest.approx(0.5 / 0.005)
    # The density at the zero level is the surface level whatever beta is.
    on_surface = torch.tensor([[0.5, 0.0, 0.0]])
    assert field.density(on_surface).item() == pytest.approx(field.surface_density, rel=1e-4)
    constant = SDFGridField(FieldConfig(grid_resolutions=(4,), sdf_grid=SDFGridConfig(beta=0.02)))
    constant.set_progress(1.0)
    assert constant.beta == 0.02


def _cube_field(beta: float) -> SDFGridField:
    """A signed-distance grid holding the procedural prior's cube (exact at its 128^3 lattice)."""
    field = SDFGridField(
        FieldConfig(grid_resolutions=(128,), coarse_to_fine_fraction=0.0, sdf_grid=SDFGridConfig(beta=beta))
    )
    axis = torch.linspace(-field.bound, field.bound, 128)
    lattice = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).flip(-1)
    distance = Scene.from_prompt("a red cube").distance(lattice.reshape(-1, 3)).reshape(lattice.shape[:-1])
    with torch.no_grad():
        field.geometry[0][0, 0] = distance - (lattice.norm(dim=-1) - field.init_radius)
    return field


@pytest.mark.slow
def test_directional_sdf_density_draws_the_silhouette_of_the_zero_level() -> None:
    """VolSDF's density has a tail outside the surface, and a ray grazing a face gathers it all along the face: the
    true cube's silhouette comes out ~15% larger than its zero level's at beta = 0.02 (the trained field answers by
    pulling its faces 1 cm in). Scaled by -d . grad s (NeuS) it is 3-6% small instead: a ray through an edge is
    short inside the cube and gathers too little to look opaque."""
    cameras = sample_cameras(CameraConfig(), 8, torch.Generator().manual_seed(0))

    def area(beta: float, samples: int, sdf_density: str) -> float:
        config = RenderConfig(samples_per_ray=samples, jitter=False, sdf_density=sdf_density)
        with torch.no_grad():
            rendering = render(_cube_field(beta), cameras, ShadingMode.AMBIENT, config, ShadingConfig(), 64)
        return rendering.opacity.sum().item()

    hard = area(0.0005, 1024, "volsdf")
    volsdf, directional = (area(0.02, 64, density) / hard - 1.0 for density in ("volsdf", "directional"))
    assert volsdf > 0.1
    assert -0.08 < directional < 0.0


def test_gradients_reach_the_grid() -> None:
    field = _field()
    out = render(field, orbit_cameras(CameraConfig(), [10.0]), ShadingMode.COLORED, RenderConfig(), ShadingConfig(), 16)
    (out.rgb.mean() + orientation_penalty(out.samples)).backward()
    assert all(level.grad is not None and level.grad.abs().sum() > 0 for level in field.parameters())


def test_per_sample_shading_of_a_sphere_is_the_papers_formula_at_its_surface() -> None:
    """An opaque sphere (the signed-distance field's start, radius 0.5, with a sharp density): each pixel is
    rho * (l_a + l_rho * max(0, n . (l - mu) / ||l - mu||)) at the ray's first hit mu, n = mu / |mu|."""
    field = SDFGridField(FieldConfig(grid_resolutions=(4,), sdf_grid=SDFGridConfig(beta=0.002)))
    camera = orbit_cameras(CameraConfig(), [30.0], elevation_deg=20.0)
    camera = dataclasses.replace(camera, light=torch.tensor([[2.0, -1.0, 1.5]]))
    config = RenderConfig(samples_per_ray=512, jitter=False, shading="per-sample")
    shading = ShadingConfig()
    size = 32
    image = render(field, camera, ShadingMode.COLORED, config, shading, size).rgb[0].permute(1, 2, 0).reshape(-1, 3)
    origins, directions = (rays.reshape(-1, 3) for rays in camera.rays(size))
    b = (origins * directions).sum(-1)
    disc = b * b - (origins.square().sum(-1) - 0.25)
    inside = disc > 0.02  # rays that meet the sphere away from its silhouette
    mu = origins + (-b - disc.clamp_min(0).sqrt()).unsqueeze(-1) * directions
    to_light = camera.light[0] - mu
    lambert = ((mu / 0.5) * to_light / to_light.norm(dim=-1, keepdim=True)).sum(-1).clamp_min(0)
    expected = 0.5 * (shading.ambient + shading.diffuse * lambert)  # albedo logits 0: rho = 0.5
    assert inside.sum() > 100
    torch.testing.assert_close(image[inside], expected[inside].unsqueeze(-1).expand(-1, 3), atol=0.01, rtol=0)


def _dense_reference(field: SDFGridField, camera, mode: ShadingMode, config: RenderConfig) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """Every sample of every ray evaluated, shaded and composited densely (the paper's formulas, no culling)."""
    size, shading = 16, ShadingConfig()
    origins, directions = (rays.reshape(-1, 3) for rays in camera.rays(size))
    near, far = ray_sphere(origins, directions, field.bound)
    length = (far - near).clamp_min(0.0)
    steps = (torch.arange(config.samples_per_ray) + 0.5) / config.samples_per_ray
    t = near[:, None] + length[:, None] * steps
    points = origins[:, None] + directions[:, None] * t[..., None]
    sample = field(points)
    alpha = 1.0 - torch.exp(-sample.density * (length / config.samples_per_ray)[:, None])
    transmittance = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha[:, :-1]], dim=1), dim=1)
    weights = (alpha * transmittance).unsqueeze(-1)
    if mode is ShadingMode.AMBIENT:
        colors = sample.albedo
    else:
        to_light = camera.light[0] - points
        lambert = (sample.normals * to_light / to_light.norm(dim=-1, keepdim=True)).sum(-1).clamp_min(0)
        intensity = (shading.ambient + shading.diffuse * lambert).unsqueeze(-1)
        colors = intensity.expand(-1, -1, 3) if mode is ShadingMode.TEXTURELESS else sample.albedo * intensity
    opacity = weights.sum(dim=1)
    rgb = (weights * colors).sum(dim=1) + (1.0 - opacity) * torch.tensor(shading.background)
    return rgb.reshape(size, size, 3).permute(2, 0, 1)


def test_the_culled_render_is_the_dense_render_with_its_gradients() -> None:
    """Skipping the samples that cannot show, and shading only the rest, changes neither the image nor the
    gradient that reaches the field (beyond the culling thresholds)."""
    torch.manual_seed(0)
    field = SDFGridField(FieldConfig(grid_resolutions=(8, 16)))
    field.set_progress(1.0)
    with torch.no_grad():
        for level in field.geometry:
            level.normal_(0.0, 0.05)
        for level in field.albedo:
            level.normal_(0.0, 1.0)
    camera = orbit_cameras(CameraConfig(), [25.0], elevation_deg=15.0)
    camera = dataclasses.replace(camera, light=torch.tensor([[2.0, -1.0, 1.5]]))
    config = RenderConfig(samples_per_ray=96, jitter=False, shading="per-sample")
    for mode in (ShadingMode.AMBIENT, ShadingMode.COLORED, ShadingMode.TEXTURELESS):
        culled_image = render(field, camera, mode, config, ShadingConfig(), 16).rgb[0]
        culled, culled_grad = _image_and_gradient(field, culled_image)
        dense, dense_grad = _image_and_gradient(field, _dense_reference(field, camera, mode, config))
        torch.testing.assert_close(culled, dense, atol=2e-3, rtol=0)
        cosine = torch.nn.functional.cosine_similarity(culled_grad, dense_grad, dim=0)
        assert cosine > 0.999, (mode, cosine)
        assert (culled_grad - dense_grad).norm() < 0.02 * dense_grad.norm()


def _image_and_gradient(field: SDFGridField, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The image, and the gradient of a fixed random weighting of its pixels with respect to every parameter."""
    field.zero_grad()
    (image * torch.rand(image.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
    grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in field.parameters()]  # albedo: None untextured
    return image.detach(), torch.cat([g.flatten() for g in grads])


def test_light_transmittance_through_a_uniform_density_is_the_analytic_one() -> None:
    """A uniform density tau fills the bounding sphere: the light is seen through exp(-tau * the path length from
    the lifted surface point to where the shadow ray leaves the sphere)."""
    field = _field(blob_strength=0.0)
    tau = 0.8
    with torch.no_grad():
        field.geometry[0][:] = math.log(math.expm1(tau))
    surface = torch.tensor([[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.0, 0.0]])
    normal = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    light = torch.tensor([[0.0, 0.0, 10.0], [10.0, 0.0, 0.0], [0.0, 0.0, 10.0]])
    opacity = torch.tensor([[1.0], [1.0], [0.0]])  # the last ray sees nothing: no shadow ray
    visibility = light_transmittance(field, surface, normal, opacity, light, samples=64)
    path = field.bound - (surface[:2] + SHADOW_OFFSET * normal[:2]).norm(dim=-1)
    torch.testing.assert_close(visibility[:2, 0], torch.exp(-tau * path), atol=1e-4, rtol=0)
    assert visibility[2, 0] == 1.0


def test_a_convex_object_casts_no_shadow_on_itself() -> None:
    """The shadow ray starts clear of the surface's soft shell, so shadows leave a lone sphere's render as it was."""
    field = SDFGridField(FieldConfig(grid_resolutions=(4,)))
    camera = orbit_cameras(CameraConfig(), [30.0], elevation_deg=20.0)
    camera = dataclasses.replace(camera, light=torch.tensor([[2.0, -1.0, 1.5]]))
    config = RenderConfig(jitter=False)
    plain, shadowed = (
        render(field, camera, ShadingMode.TEXTURELESS, config, ShadingConfig(shadows=shadows), 32).rgb
        for shadows in (False, True)
    )
    assert (plain - shadowed).abs().max() < 0.015


def test_eikonal_points_in_the_sphere_are_uniform_in_its_volume_and_reach_beyond_the_rays() -> None:
    """ "sphere" draws from the run's generator, uniform in the ball's volume (an eighth within half the radius, not
    the half a radius drawn uniformly would give), wherever the step's rays went; "rays" keeps a stride of them."""
    rays = torch.rand(40, 64, 3) * 0.1  # every sample in one small corner of the ball
    drawn = eikonal_points(rays, 1.0, "sphere", torch.Generator().manual_seed(3))
    again = eikonal_points(rays, 1.0, "sphere", torch.Generator().manual_seed(3))
    assert drawn.shape == (SPREAD_EIKONAL_POINTS, 3)
    torch.testing.assert_close(drawn, again)
    radius = drawn.norm(dim=-1)
    assert radius.max() <= 1.0
    assert 0.09 < (radius < 0.5).float().mean() < 0.16
    assert (drawn < 0).any(dim=-1).float().mean() > 0.8  # outside the rays' corner
    strided = eikonal_points(rays, 1.0, "rays", torch.Generator().manual_seed(3))
    assert len(strided) <= SPREAD_EIKONAL_POINTS
    assert (strided >= 0).all() and (strided <= 0.1).all()


def _random_hash_field() -> HashGridField:
    """A small hash-grid field with a random table and heads: an uneven object with every kind of ray."""
    torch.manual_seed(0)
    grid = HashGridConfig(levels=3, base_resolution=8, finest_resolution=24, log2_table_size=10, start_levels=3)
    field = HashGridField(FieldConfig(name="hash_grid", hash_grid=grid))
    with torch.no_grad():
        field.encoding.table.uniform_(-1.0, 1.0)
        for head in (field.density_head, field.albedo_head):
            head.output.weight.normal_(0.0, 0.5)
    return field


@pytest.mark.parametrize("shading", ["per-sample", "deferred"])
def test_a_frame_rendered_in_chunks_of_rays_is_the_one_piece_frame(shading: str) -> None:
    """Previews and turntables march a few thousand rays at a time (memory); each ray's result is its own, so the
    chunks give the same frame and the same samples. 37 rays a chunk: the last chunk is a partial one."""
    field = _random_hash_field()
    cameras = orbit_cameras(CameraConfig(), [0.0, 130.0])
    config, shading_config = RenderConfig(samples_per_ray=24, shading=shading), ShadingConfig(shadows=True)
    with torch.no_grad():
        whole = render(field, cameras, ShadingMode.COLORED, config, shading_config, 20)
        chunked = render(field, cameras, ShadingMode.COLORED, config, shading_config, 20, ray_chunk=37)
    assert whole.samples.marched_rays > 37 * 10 and 0.05 < whole.opacity.mean() < 0.95, "a real object in the frame"
    for name in ("rgb", "opacity", "depth"):
        torch.testing.assert_close(getattr(chunked, name), getattr(whole, name), rtol=1e-5, atol=1e-6)
    for name in ("weights", "normals", "directions", "ray"):
        torch.testing.assert_close(getattr(chunked.samples, name), getattr(whole.samples, name), rtol=1e-5, atol=1e-6)
    frames = render_image(field, cameras, ShadingMode.TEXTURELESS, config, shading_config, 20, ray_chunk=50)
    one_piece = render_image(field, cameras, ShadingMode.TEXTURELESS, config, shading_config, 20, ray_chunk=400)
    torch.testing.assert_close(frames, one_piece, rtol=1e-5, atol=1e-6)
