"""Recipes: each prior resolves to the settings docs/recipes.md's table gives (parsed from the table), every setting a
recipe sets is a row, what the user sets wins, and ``generate --dry-run`` prints them for every prior without
creating anything or needing weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import protocol
from engine.cli import build_parser
from engine.config import PRESETS, RunConfig, to_dict
from engine.config_assembly import build_config
from engine.recipes import RECIPES, starting_settings
from engine.registry import PRIORS

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "recipes.md"
OFFLINE_COLUMN = "offline priors"
OFFLINE = ("procedural", "procedural-text", "oracle")


def recipe_table() -> dict[str, dict[str, Any]]:
    """{setting: {column: value}} from the Markdown table whose first column is ``setting`` (values are JSON)."""
    lines = [line.strip() for line in TABLE.read_text().splitlines() if line.strip().startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[0] == "setting" and header[-1] == "source", header
    table: dict[str, dict[str, Any]] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        setting = cells[0].strip("`")
        values = zip(header[1:-1], cells[1:-1], strict=True)
        table[setting] = {column: json.loads(cell.strip("`")) for column, cell in values}
        assert cells[-1], f"{setting} has no source"
    return table


def resolved(*argv: str) -> dict[str, Any]:
    args = build_parser("generate").parse_args(["generate", "--prompt", "a red cube", *argv])
    return json.loads(json.dumps(to_dict(build_config(args))))


def value_at(config: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        config = config[part]
    return config


def column_of(prior: str) -> str:
    return OFFLINE_COLUMN if prior in OFFLINE else prior


def test_every_prior_has_a_recipe_and_a_column() -> None:
    columns = set(next(iter(recipe_table().values())))
    assert set(RECIPES) == set(PRIORS)
    assert {column_of(prior) for prior in PRIORS} == columns


@pytest.mark.parametrize("prior", sorted(PRIORS))
def test_each_prior_resolves_to_the_documented_table(prior: str) -> None:
    config = resolved("--prior", prior)
    for setting, values in recipe_table().items():
        assert value_at(config, setting) == values[column_of(prior)], f"{prior}: {setting}"


def test_every_setting_a_recipe_sets_is_in_the_table() -> None:
    rows = set(recipe_table())
    for recipe in RECIPES.values():
        assert set(recipe.settings) <= rows, f"{recipe.name}: {sorted(set(recipe.settings) - rows)} not documented"
        assert recipe.settings or recipe.prior in OFFLINE


def test_what_the_user_sets_wins_over_the_recipe_and_the_recipe_over_the_preset() -> None:
    config = resolved("--prior", "stable-diffusion", "--preset", "fast", "--steps", "300", "--guidance-scale", "50",
                      "--set", "render.samples_per_ray=96")  # fmt: skip
    assert value_at(config, "optim.steps") == 300
    assert value_at(config, "guidance.guidance_scale") == 50
    assert value_at(config, "render.samples_per_ray") == 96
    assert value_at(config, "mesh.grid_resolution") == 128, "the preset still picks what the recipe leaves alone"
    assert value_at(resolved("--prior", "deepfloyd-if", "--preset", "fast"), "optim.steps") == 10_000
    assert value_at(resolved("--set", 'guidance.prior="deepfloyd-if"'), "optim.steps") == 10_000
    assert value_at(resolved("--prior", "procedural", "--preset", "fast"), "optim.steps") == 600


@pytest.mark.slow  # one engine process per prior (torch's import)
@pytest.mark.parametrize("prior", sorted(PRIORS))
def test_dry_run_prints_every_resolved_setting_and_creates_nothing(prior: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "engine", "generate", "--prompt", "a red cube", "--prior", prior]
    command += ["--out", str(out), "--dry-run"]
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "no-models"), "DREAMFUSION_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (line,) = result.stdout.splitlines()
    event = protocol.decode(line)
    assert event["event"] == protocol.CONFIG and event["recipe"] == RECIPES[prior].name
    assert event["config"] == resolved("--prior", prior, "--out", str(out))
    assert set(event["config"]) == {spec for spec in to_dict(RunConfig())}
    assert list(tmp_path.iterdir()) == [], "nothing was created"


def test_a_client_reads_the_step_count_a_prior_will_run_at_each_preset() -> None:
    for prior in PRIORS:
        for preset in PRESETS:
            expected = value_at(resolved("--prior", prior, "--preset", preset), "optim.steps")
            assert starting_settings(prior, preset).get("optim.steps", RunConfig().optim.steps) == expected
