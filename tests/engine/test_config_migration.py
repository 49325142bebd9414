"""Settings that moved into their prior's or field's own section: a config.json written before the move (the fixture
was written by the tree before it, with every moved setting changed from its default) still loads and resumes, and
``--set`` still takes the old names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import protocol
from engine.cli import build_parser
from engine.config import RunConfig, leaf_fields, to_dict
from engine.config_migration import MOVED, migrated
from engine.config_schema import parse_set
from engine.run_folder import load_run_config

ROOT = Path(__file__).resolve().parents[2]
BEFORE = ROOT / "tests" / "fixtures" / "config_before_sections.json"
# What the fixture's old keys held, at their new places.
EXPECTED = {
    "guidance.procedural.lights": 3,
    "guidance.procedural.render_light": False,
    "guidance.procedural_text.views": 16,
    "guidance.procedural_text.view_selection": "kernel",
    "guidance.procedural_text.view_width_deg": 25.0,
    "guidance.perp_neg.enabled": True,
    "guidance.perp_neg.weight": -1.5,
    "guidance.perp_neg.front_decay": 3.0,
    "guidance.perp_neg.side_decay": 9.0,
    "field.sdf_grid.beta": 0.03,
    "field.sdf_grid.init_radius": 0.4,
    "field.mlp.hidden": 32,
    "field.mlp.blocks": 2,
    "field.mlp.octaves": 4,
}


def value_at(config: RunConfig, path: str) -> object:
    value: object = config
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_every_move_lands_on_a_setting_and_the_fixture_covers_every_move() -> None:
    paths = {path for path, _, _ in leaf_fields(RunConfig)}
    assert set(MOVED.values()) <= paths
    assert not set(MOVED) & paths, "an old name is still a setting"
    assert set(MOVED.values()) == set(EXPECTED)
    old = json.loads(BEFORE.read_text())
    assert all(old[path.split(".")[0]][path.split(".")[1]] is not None for path in MOVED)


def test_a_config_json_from_before_the_sections_loads_with_every_value_in_its_new_place(tmp_path: Path) -> None:
    shutil.copy(BEFORE, tmp_path / "config.json")
    config = load_run_config(tmp_path)
    for path, value in EXPECTED.items():
        assert value_at(config, path) == value, path
    assert config.optim.steps == 4 and config.render.resolution == 16  # the settings that did not move
    assert migrated(to_dict(config)) == to_dict(config), "a new config.json is left as it is"


def test_a_hash_grid_run_from_before_its_signed_distance_output_resumes_as_the_density_it_trained(
    tmp_path: Path,
) -> None:
    config = RunConfig(prompt="a red cube")
    config.field.name = "hash_grid"
    written = to_dict(config)
    del written["field"]["hash_grid"]["output"]  # as config.json was written before the setting
    (tmp_path / "config.json").write_text(json.dumps(written))
    assert load_run_config(tmp_path).field.hash_grid.output == "density"
    assert config.field.hash_grid.output == "sdf", "a new run gets the new default"
    assert migrated(to_dict(config)) == to_dict(config)


def test_set_takes_the_old_names() -> None:
    assert parse_set(["guidance.procedural_lights=4", "guidance.perp_neg=true", "render.resolution=32"]) == {
        "guidance.procedural.lights": 4,
        "guidance.perp_neg.enabled": True,
        "render.resolution": 32,
    }


@pytest.mark.slow  # a real engine process: 4 steps, 16 px, a 32^3 mesh
def test_a_run_folder_from_before_the_sections_resumes_to_a_mesh(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(BEFORE, run / "config.json")
    command = [sys.executable, "-m", "engine", "generate", "--resume", str(run), "--steps", "5", "--device", "cpu"]
    result = subprocess.run(
        command, cwd=ROOT, env=dict(os.environ), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (run / "mesh.npz").is_file()
    written = json.loads((run / "config.json").read_text())  # --steps changed it, so it was written anew
    assert written["optim"]["steps"] == 5
    assert written["guidance"]["procedural"] == {"lights": 3, "render_light": False}
    assert "procedural_lights" not in written["guidance"]


def test_dry_run_of_an_old_folder_shows_the_migrated_settings_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(BEFORE, tmp_path / "config.json")
    before = sorted(tmp_path.iterdir()), (tmp_path / "config.json").read_text()
    args = build_parser("generate").parse_args(["generate", "--resume", str(tmp_path), "--steps", "9", "--dry-run"])
    assert args.run(args) == 0
    event = protocol.decode(capsys.readouterr().out.strip())
    assert event["event"] == protocol.CONFIG and event["recipe"] is None
    assert event["config"]["optim"]["steps"] == 9
    assert event["config"]["field"]["sdf_grid"] == {"beta": 0.03, "init_radius": 0.4, "beta_end": None}
    assert (sorted(tmp_path.iterdir()), (tmp_path / "config.json").read_text()) == before
