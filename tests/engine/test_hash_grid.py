"""The hash-grid field (engine/field/hash_grid.py): instant-NGP's encoding, progressive levels, analytic normals."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from engine import checkpoint
from engine.config import FieldConfig, HashGridConfig, OptimConfig, RunConfig, override
from engine.field.hash_grid import HASH_PRIMES, HashGridField, level_resolutions
from engine.optimizer import build_optimizer
from engine.registry import FIELDS, resolve
from tests.fixtures.engine_runs import generate_and_compare

# Small enough for milliseconds: levels 8, 12, 19, 30 cells; the last two do not fit 2^12 rows, so they hash.
SMALL = {"levels": 4, "base_resolution": 8, "finest_resolution": 30, "log2_table_size": 12, "start_levels": 4}


def _field(seed: int = 0, **overrides: object) -> HashGridField:
    """A small field with every level active and a random table and heads (the real start is the blob alone)."""
    torch.manual_seed(seed)
    field = HashGridField(FieldConfig(name="hash_grid", hash_grid=HashGridConfig(**{**SMALL, **overrides})))  # type: ignore[arg-type]
    field.set_progress(1.0)
    with torch.no_grad():
        field.encoding.table.uniform_(-1.0, 1.0)
        for head in (field.density_head, field.albedo_head):
            head.output.weight.normal_(0.0, 0.5)
    return field


def _points(count: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(count, 3, generator=torch.Generator().manual_seed(seed)) * 1.1 - 0.55  # inside the ball


def test_the_registry_builds_it_and_it_is_not_the_default() -> None:
    assert resolve(FIELDS, "hash_grid", "field") is HashGridField
    assert RunConfig().field.name != "hash_grid"
    config = RunConfig(prompt="a red cube")
    override(config, {"field.name": "hash_grid", "field.hash_grid.levels": 6})
    assert config.field.hash_grid.levels == 6


def test_levels_grow_geometrically_to_the_finest() -> None:
    resolutions = level_resolutions(HashGridConfig(levels=16, finest_resolution=4096))  # threestudio's
    assert len(resolutions) == 16 and resolutions[0] == 16 and resolutions[-1] == 4096
    ratios = [b / a for a, b in itertools.pairwise(resolutions)]
    assert min(ratios) > 1.38 and max(ratios) < 1.52  # per_level_scale 1.447, floored


def test_shapes_ranges_and_the_density_outputs_start_is_the_blob() -> None:
    grid = HashGridConfig(**{**SMALL, "output": "density"})  # type: ignore[arg-type]
    field = HashGridField(FieldConfig(name="hash_grid", hash_grid=grid))
    points = _points(50).reshape(5, 10, 3)
    sample = field(points)
    assert sample.density.shape == (5, 10) and sample.albedo.shape == (5, 10, 3) and sample.normals.shape == (5, 10, 3)
    # zero output layers: softplus(blob) and gray, normals pointing out of the blob
    config = field.config
    radius = points.norm(dim=-1)
    blob = config.blob_strength * (1.0 - radius / config.blob_radius)
    torch.testing.assert_close(sample.density, torch.nn.functional.softplus(blob))
    torch.testing.assert_close(sample.albedo, torch.full_like(sample.albedo, 0.5))
    torch.testing.assert_close(sample.normals, points / radius.unsqueeze(-1))


def test_nothing_outside_the_rendered_ball() -> None:
    field = _field()
    corners = torch.tensor([[0.9, 0.9, 0.9], [-0.95, 0.8, -0.9], [1.0, -1.0, 1.0]])  # in the box, outside the ball
    assert field(corners).density.abs().max() == 0 and field.density(corners).abs().max() == 0
    assert field.density_and_albedo(corners)[0].abs().max() == 0
    assert (field.density(_points(100) * 0.7) > 0).all()


def test_no_points_is_a_valid_input() -> None:
    """A chunk of a preview's rays may have no sample that shows (measured: a sphere's run failed at its preview)."""
    field, none = _field(), torch.zeros(0, 3)
    sample = field(none)
    assert sample.density.shape == (0,) and sample.albedo.shape == sample.normals.shape == (0, 3)
    assert field.density(none).shape == (0,) and field.density_and_albedo(none)[1].shape == (0, 3)


def test_gradients_reach_the_table_and_both_heads() -> None:
    field = _field()
    sample = field(_points(400))
    (sample.density.sum() + sample.albedo.sum() + (sample.normals * torch.tensor([0.3, -0.2, 0.9])).sum()).backward()
    for name, parameter in field.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_the_default_encodings_finest_levels_hash() -> None:
    encoding = HashGridField(FieldConfig(name="hash_grid")).encoding
    assert encoding.hashed == [False, False, True, True, True] and encoding.resolutions == [16, 26, 45, 76, 128]


def test_hashed_levels_collide_and_dense_levels_do_not() -> None:
    field = _field()
    encoding = field.encoding
    table_size = 1 << SMALL["log2_table_size"]
    for level, resolution in enumerate(encoding.resolutions):
        axis = torch.arange(resolution + 1)
        vertices = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
        rows = encoding.rows(level, vertices)
        start, stop = encoding.offsets[level], encoding.offsets[level + 1]
        assert rows.min() >= start and rows.max() < stop
        distinct = rows.unique().numel()
        if encoding.hashed[level]:
            # more vertices than slots: they share, as uniformly as a random assignment would (expected distinct
            # slots T (1 - exp(-n / T)))
            assert len(vertices) > table_size and distinct < len(vertices)
            uniform = table_size * (1.0 - math.exp(-len(vertices) / table_size))
            assert abs(distinct - uniform) < 0.03 * uniform
        else:
            assert distinct == len(vertices)  # one row per vertex


def test_the_hash_is_instant_ngps_and_deterministic() -> None:
    field = _field()
    encoding = field.encoding
    level = encoding.hashed.index(True)
    vertices = torch.tensor([[0, 0, 0], [1, 2, 3], [30, 17, 5], [29, 30, 30]])
    expected = [
        encoding.offsets[level] + ((x * HASH_PRIMES[0]) ^ (y * HASH_PRIMES[1]) ^ (z * HASH_PRIMES[2])) % 4096
        for x, y, z in vertices.tolist()
    ]
    assert encoding.rows(level, vertices).tolist() == expected
    points = _points(200)
    torch.testing.assert_close(_field(seed=3)(points).density, _field(seed=3)(points).density, rtol=0, atol=0)


def test_progressive_levels_follow_threestudios_schedule_and_mask_the_locked_ones() -> None:
    field = _field(start_levels=2, progressive_start=0.2, progressive_every=0.1)
    schedule = {}
    for fraction in (0.0, 0.19, 0.25, 0.3, 0.35, 0.4, 1.0):
        field.set_progress(fraction)
        schedule[fraction] = int(field.encoding.active_levels)
    assert schedule == {0.0: 2, 0.19: 2, 0.25: 2, 0.3: 3, 0.35: 3, 0.4: 4, 1.0: 4}

    field.set_progress(0.0)  # levels 2 and 3 locked
    points = _points(300)
    features, _ = field.encoding(points)
    assert features[:, 4:].abs().max() == 0 and features[:, :4].abs().max() > 0
    before = field(points)
    locked = slice(field.encoding.offsets[2], None)
    with torch.no_grad():
        field.encoding.table[locked] += 5.0  # the locked levels' rows change nothing ...
    after = field(points)
    torch.testing.assert_close(after.density, before.density, rtol=0, atol=0)
    (after.density.sum() + after.normals.sum()).backward()
    grad = field.encoding.table.grad
    assert grad is not None and grad[locked].abs().max() == 0 and grad[: locked.start].abs().max() > 0  # ... nor learn


@pytest.mark.parametrize(
    ("interpolation", "output"), [("linear", "density"), ("smoothstep", "density"), ("linear", "sdf")]
)
def test_analytic_normals_are_the_density_gradient(interpolation: str, output: str) -> None:
    # (a wide beta for "sdf", so that VolSDF's density does not saturate and finite differences can read it)
    field = _field(interpolation=interpolation, output=output, beta=1.0).double()
    points = _points(500).double()
    normals = field(points).normals
    # the negated gradient of the density (softplus is increasing: the same direction as the pre-activation's)
    step = 1e-6
    offsets = torch.eye(3, dtype=torch.float64) * step
    central = torch.stack(
        [
            (field.density(points + offsets[axis]) - field.density(points - offsets[axis])) / (2 * step)
            for axis in range(3)
        ],
        dim=-1,
    )
    expected = -central / central.norm(dim=-1, keepdim=True)
    error = (normals - expected).norm(dim=-1)
    # The gradient jumps where a ReLU of the head switches and (trilinear) across cell faces: the few points within
    # a step of one differ there only.
    assert (error < 1e-5).float().mean() > 0.97 and error.median() < 1e-7


def test_the_signed_distance_output_starts_at_its_sphere_with_a_unit_gradient() -> None:
    """output "sdf": the head's output (zero at the start) is added to the start sphere's distance; VolSDF's density,
    whose value at the zero level is the field's surface for the mesh export; |grad s| for the eikonal term."""
    grid = HashGridConfig(**{**SMALL, "output": "sdf", "init_radius": 0.4, "beta": 0.01})
    field = HashGridField(FieldConfig(name="hash_grid", hash_grid=grid))
    directions = torch.nn.functional.normalize(_points(200), dim=-1)
    on_sphere = field(directions * 0.4)
    torch.testing.assert_close(on_sphere.density, torch.full((200,), 50.0), rtol=1e-4, atol=0.0)  # float32 radii
    density_output = HashGridConfig(output="density")
    assert field.surface_density == 50.0
    assert HashGridField(FieldConfig(name="hash_grid", hash_grid=density_output)).surface_density is None
    torch.testing.assert_close(on_sphere.gradient_norm, torch.ones(200))
    torch.testing.assert_close(on_sphere.normals, directions)
    inside, outside = field.density(directions * 0.3), field.density(directions * 0.5)
    assert (inside > 90.0).all() and (outside < 1.0).all()


def test_the_tables_gradient_is_the_numerical_one() -> None:
    """The encoding's own backward (one scatter-add for every level) against finite differences of the table,
    through density, albedo and the analytic normals; a tiny field with a dense and a hashed level."""
    field = _field(levels=2, base_resolution=2, finest_resolution=3, log2_table_size=5, start_levels=2).double()
    assert field.encoding.hashed == [False, True]
    points = _points(6).double()

    def outputs(table: torch.Tensor) -> tuple[torch.Tensor, ...]:
        sample = torch.func.functional_call(field, {"encoding.table": table}, (points,))
        return sample.density, sample.albedo, sample.normals

    table = field.encoding.table.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(outputs, (table,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    field = _field(start_levels=2, progressive_every=0.1)
    field.set_progress(0.3)  # 3 of 4 levels
    optimizer = build_optimizer(field, OptimConfig())
    loss = field(_points(200)).density.sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    checkpoint.save(tmp_path / "checkpoint", 7, field, optimizer, torch.Generator().manual_seed(0))

    restored = _field(seed=9, start_levels=2, progressive_every=0.1)
    restored.set_progress(0.0)
    step = checkpoint.load(
        tmp_path / "checkpoint", restored, build_optimizer(restored, OptimConfig()), torch.Generator(), 100
    )
    assert step == 7 and int(restored.encoding.active_levels) == 3
    points = _points(100, seed=5)
    original, loaded = field(points), restored(points)
    for name in ("density", "albedo", "normals"):
        torch.testing.assert_close(getattr(loaded, name), getattr(original, name), rtol=0, atol=0)


@pytest.mark.slow
def test_it_learns_a_duck_from_the_oracle(tmp_path: Path) -> None:
    """A short real run through the engine on the exact truth renders, small settings (10 s on 2 idle cores, two
    minutes on busy ones). Measured with these settings (the signed-distance output): IoU 0.819, normal consistency
    0.923 (one step, the start sphere: 0.464)."""
    flags = ("--prior", "oracle", "--steps", "80", "--preset", "fast", "--seed", "0")
    settings = ('field.name="hash_grid"', "render.resolution=32", "render.samples_per_ray=32")
    settings += ("mesh.grid_resolution=64", "preview_every=0", "turntable_frames=1")
    trained = generate_and_compare("a yellow duck", tmp_path / "duck", *flags, settings=settings)
    assert trained.iou > 0.7, trained  # one step: 0.464
