"""Every config field has a type and a range, checked in one place (engine/config_schema.py), for
``--set``, the flags, config.json on resume and the stages' own configs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from engine.config import PRESETS, MeshConfig, RunConfig, check, from_dict, leaf_fields, override, to_dict
from engine.config_schema import ConfigError, setting


def test_every_field_declares_the_values_it_takes() -> None:
    paths = [path for path, _, _ in leaf_fields(RunConfig)]  # raises for a field declared without setting()
    assert "optim.lr" in paths and "mesh.formats" in paths and len(paths) == len(set(paths))


def test_a_field_declared_without_setting_is_refused() -> None:
    @dataclass
    class Careless:
        fine: int = setting(1, low=0, high=2)
        forgotten: int = 3

    with pytest.raises(TypeError, match="'forgotten' has no allowed values"):
        from_dict(Careless, {"forgotten": 4})


def test_the_defaults_and_the_presets_are_valid() -> None:
    for preset in PRESETS.values():
        config = RunConfig(prompt="a red cube")
        override(config, preset)
        check(config)


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("optim.lr", "abc", 'optim.lr must be a number from 1e-08 to 10, or null, not "abc"'),
        ("optim.lr", math.nan, "optim.lr must be a number"),
        ("optim.steps", "10", 'optim.steps must be a whole number from 1 to 1000000, not "10"'),
        ("optim.steps", 10.5, "optim.steps must be a whole number"),
        ("render.resolution", 0, "render.resolution must be a whole number from 8 to 512, not 0"),
        ("render.resolution", 100000, "render.resolution must be a whole number from 8 to 512"),
        ("render.samples_per_ray", 0, "render.samples_per_ray must be a whole number from 1 to 1024"),
        ("seed", 2**64, "seed must be a whole number from 0 to"),
        ("guidance.guidance_scale", math.nan, "guidance.guidance_scale must be a number from 0 to 1000, or null"),
        ("render.jitter", 1, "render.jitter must be true or false, not 1"),
        ("mesh.bake", "png", "mesh.bake must be one of vertex, uv"),
        ("mesh.formats", ["npz", "fbx"], "mesh.formats must be a list of 1 to 3 items, each one of npz, glb, obj"),
        ("camera.fovy_range_deg", [70.0, 40.0], "the first no larger than the second"),
        ("camera.fovy_range_deg", [40.0], "camera.fovy_range_deg must be two numbers"),
        ("mesh.min_component_fraction", 1.0, "from 0 up to (not including) 1"),
        ("device", "tpu", "device must be one of auto, cpu, cuda, mps"),
        ("optim", 3, "optim is a group of settings; set one of its fields"),
        ("optim.nope", 1, "unknown setting 'optim.nope'"),
    ],
)
def test_a_bad_value_is_one_sentence_naming_the_field_and_its_values(path: str, value: object, words: str) -> None:
    config = RunConfig(prompt="a red cube")
    before = to_dict(config)
    with pytest.raises(ConfigError) as caught:
        override(config, {path: value})
    assert words in str(caught.value) and caught.value.kind == "input"
    assert to_dict(config) == before  # nothing was changed


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        override(RunConfig(prompt="a red cube"), {"optim.lr": -1.0, "render.resolution": 0})
    assert [problem.split(" ")[0] for problem in caught.value.problems] == ["optim.lr", "render.resolution"]


def test_good_values_are_stored_as_their_type() -> None:
    config = RunConfig(prompt="a red cube")
    override(config, {"optim.lr": 1, "mesh.formats": ["npz"], "camera.fovy_range_deg": [30, 60]})
    assert isinstance(config.optim.lr, float) and config.mesh.formats == ("npz",)
    assert config.camera.fovy_range_deg == (30.0, 60.0)


def test_config_json_round_trips_and_is_checked_as_strictly() -> None:
    config = RunConfig(prompt="a red cube")
    assert to_dict(from_dict(RunConfig, to_dict(config))) == to_dict(config)
    with pytest.raises(ConfigError, match="the settings must be an object of settings, not \\[\\]"):
        from_dict(RunConfig, [])
    data = to_dict(config)
    data["seed"] = "zero"
    data["optim"]["steps"] = None
    with pytest.raises(ConfigError) as caught:
        from_dict(RunConfig, data)
    assert caught.value.problems == [
        'seed must be a whole number from 0 to 9223372036854775807, not "zero"',
        "optim.steps must be a whole number from 1 to 1000000, not null",
    ]


def test_a_section_is_checked_under_its_own_name() -> None:
    mesh = MeshConfig(texture_size=10)
    with pytest.raises(ConfigError, match=r"mesh\.texture_size must be a whole number from 64 to 8192, not 10"):
        check(mesh, "mesh.")
