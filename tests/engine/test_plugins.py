"""A prior or a field in one file outside the tree: it registers itself (engine/registry.py), the engine's command
line imports it from $DREAMFUSION_ENGINE_PLUGINS before reading its flags, and ``generate`` takes its name.

The plugins are written to a temporary folder and the real command line runs them in a subprocess (PYTHONPATH finds
them, as it would a user's own); without the variable the same names are refused with a sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import protocol
from engine.config import PRESETS, RunConfig, check
from engine.config_assembly import DEFAULT_PRESET
from engine.config_schema import ConfigError
from engine.errors import EngineError
from engine.registry import FIELDS, PLUGINS_VARIABLE, PRIORS, FieldEntry, load_plugins, register_field

ROOT = Path(__file__).resolve().parents[2]

# A whole prior: the exact denoiser of data that are one mid-gray image, its registry entry and its recipe.
TOY_PRIOR = '''
"""A prior whose data are one mid-gray image: a prior in one file."""

import torch

from engine.guidance.base import DiffusionPrior
from engine.recipes import register_recipe
from engine.registry import PriorEntry, register_prior


class GrayPrior(DiffusionPrior):
    name = "toy-gray"
    num_train_timesteps = 1000

    def __init__(self, device: torch.device) -> None:
        self._alphas = torch.linspace(0.999, 0.01, self.num_train_timesteps, device=device)

    @classmethod
    def from_run_config(cls, run, device, cache_dir, progress=None):
        return cls(device)

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self._alphas

    def set_prompt(self, prompt, negative_prompt, suffixes, progress=None) -> None:
        pass

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb * 2 - 1  # mid gray is 0

    def predict_noise(self, noisy, t, views, guidance_scale):
        return noisy / (1 - self._alphas[t].view(-1, 1, 1, 1)).sqrt()


register_prior(
    PriorEntry(
        "toy-gray", f"{__name__}:GrayPrior", "Everything is mid gray (a test)", label="Gray", default_guidance_scale=3.0
    )
)
register_recipe("toy-gray-recipe", "toy-gray", {"optim.steps": 321, "render.resolution": 32}, "the test")
'''

# A whole field: a sphere of learned radius and color.
TOY_FIELD = '''
"""A sphere of learned radius and color: a field in one file."""

import torch
from torch import nn

from engine.field.base import Field, FieldSample
from engine.registry import FieldEntry, register_field


class SphereField(Field):
    default_learning_rates = {"geometry": 0.01}

    def __init__(self, config, bound: float) -> None:
        super().__init__()
        self.bound = bound
        self.radius = nn.Parameter(torch.tensor(0.5))
        self.color = nn.Parameter(torch.zeros(3))

    def forward(self, points: torch.Tensor) -> FieldSample:
        distance = points.norm(dim=-1)
        density = 50.0 * torch.sigmoid(40.0 * (self.radius - distance))
        albedo = torch.sigmoid(self.color).expand(*points.shape[:-1], 3)
        return FieldSample(density, albedo, points / distance.clamp_min(1e-6).unsqueeze(-1))


register_field(FieldEntry("toy-sphere", f"{__name__}:SphereField", "A sphere of learned radius (a test)"))
'''


def plugin_env(folder: Path, modules: dict[str, str], plugins: str | None) -> dict[str, str]:
    """An environment whose PYTHONPATH holds ``modules`` (name -> source) and whose plugin variable is ``plugins``."""
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(source)
    env = {key: value for key, value in os.environ.items() if key != PLUGINS_VARIABLE}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(folder)])
    if plugins is not None:
        env[PLUGINS_VARIABLE] = plugins
    return env


def engine(env: dict[str, str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    """The real command line: exit code, its events, its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "engine", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, events, result.stdout


@pytest.mark.slow  # three engine processes (about 4 s each on a loaded 2-core machine)
def test_a_prior_in_one_file_is_taken_by_generate_with_its_recipe(tmp_path: Path) -> None:
    env = plugin_env(tmp_path, {"toy_prior": TOY_PRIOR}, "toy_prior")
    code, events, _ = engine(env, "generate", "--prompt", "a gray ball", "--prior", "toy-gray", "--dry-run")
    assert code == 0, events
    (event,) = events
    assert event["event"] == protocol.CONFIG and event["recipe"] == "toy-gray-recipe"
    config = event["config"]
    assert config["guidance"]["prior"] == "toy-gray"
    assert (config["optim"]["steps"], config["render"]["resolution"]) == (321, 32)  # its recipe, over the preset
    assert config["mesh"]["grid_resolution"] == PRESETS[DEFAULT_PRESET]["mesh.grid_resolution"]  # which it leaves

    code, events, _ = engine(env, "generate", "--prompt", "a gray ball", "--prior", "toy-gray", "--steps", "12",
                             "--dry-run")  # fmt: skip
    assert code == 0 and events[0]["config"]["optim"]["steps"] == 12  # the user's flag over the recipe

    code, _, help_text = engine(env, "generate", "--help")
    assert code == 0 and "toy-gray: Everything is mid gray (a test)" in " ".join(help_text.split())


@pytest.mark.slow  # two engine processes
def test_without_the_plugin_its_prior_is_refused_with_a_sentence(tmp_path: Path) -> None:
    env = plugin_env(tmp_path, {"toy_prior": TOY_PRIOR}, None)  # on PYTHONPATH, but not named as a plugin
    code, events, _ = engine(env, "generate", "--prompt", "a gray ball", "--prior", "toy-gray", "--dry-run")
    assert code == 2 and events[-1]["kind"] == "input"
    assert events[-1]["message"].startswith("guidance.prior must be one of procedural, ")
    assert events[-1]["message"].endswith('not "toy-gray"')

    env = plugin_env(tmp_path, {}, "toy_prior, not_a_module")
    code, events, _ = engine(env, "generate", "--prompt", "a gray ball", "--dry-run")
    assert code == 2 and events[-1]["kind"] == "input"
    message = events[-1]["message"]
    assert "the engine plugin 'not_a_module' (DREAMFUSION_ENGINE_PLUGINS) cannot be imported" in message
    assert "PYTHONPATH" in message


@pytest.mark.slow  # four engine processes
def test_a_field_in_one_file_is_taken_by_generate_and_its_class_found(tmp_path: Path) -> None:
    broken = "from engine.registry import FieldEntry, register_field\n"
    broken += 'register_field(FieldEntry("toy-lost", f"{__name__}:NoSuchField", "A class that is not there"))\n'
    env = plugin_env(tmp_path, {"toy_field": TOY_FIELD, "lost_field": broken}, "toy_field,lost_field")
    for flags in (["--field", "toy-sphere"], ["--set", "field.name=toy-sphere"]):
        code, events, _ = engine(env, "generate", "--prompt", "a gray ball", *flags, "--dry-run")
        assert code == 0, events
        assert events[0]["event"] == protocol.CONFIG and events[0]["config"]["field"]["name"] == "toy-sphere"

    code, events, _ = engine(env, "generate", "--prompt", "a gray ball", "--field", "toy-lost", "--dry-run")
    assert code == 2 and events[-1]["kind"] == "input"
    assert (
        "the field 'toy-lost' is registered as lost_field:NoSuchField, which cannot be imported"
        in events[-1]["message"]
    )

    env = plugin_env(tmp_path, {}, None)
    code, events, _ = engine(env, "generate", "--prompt", "a gray ball", "--field", "toy-sphere", "--dry-run")
    assert code == 2 and events[-1]["message"].startswith("field.name must be one of sdf-grid, grid, mlp, hash_grid")


@pytest.mark.slow  # a whole run: 4 steps, the mesh export, the turntable left out
def test_the_plugin_prior_and_field_run_a_whole_generate(tmp_path: Path) -> None:
    env = plugin_env(tmp_path, {"toy_prior": TOY_PRIOR, "toy_field": TOY_FIELD}, "toy_prior,toy_field")
    settings = ["mesh.grid_resolution=32", "render.samples_per_ray=16", "turntable_frames=0", "preview_every=0"]
    code, events, _ = engine(
        env, "generate", "--prompt", "a gray ball", "--prior", "toy-gray", "--field", "toy-sphere", "--steps", "4",
        "--device", "cpu", "--out", str(tmp_path / "run"), *(item for s in settings for item in ("--set", s)),
    )  # fmt: skip
    assert code == 0, events[-1]
    assert events[0]["event"] == protocol.STARTED and events[0]["prior"] == "toy-gray"
    assert events[-1]["event"] == protocol.DONE and events[-1]["faces"] > 0
    written = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (written["guidance"]["prior"], written["field"]["name"]) == ("toy-gray", "toy-sphere")


def test_a_name_is_registered_once() -> None:
    with pytest.raises(EngineError, match="the field 'grid' is registered twice"):
        register_field(FieldEntry("grid", "elsewhere:Grid", "another grid"))
    with pytest.raises(EngineError, match="write it as 'module:Class'"):
        register_field(FieldEntry("toy-no-class", "elsewhere", "no class named"))
    assert FIELDS["grid"].target == "engine.field.grid:GridField" and "toy-no-class" not in FIELDS


def test_the_config_takes_a_name_registered_after_it_was_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    config = RunConfig(prompt="a gray ball")
    config.guidance.prior = "toy-late"
    with pytest.raises(ConfigError, match=r'guidance.prior must be one of procedural, .*, not "toy-late"'):
        check(config)
    monkeypatch.setitem(PRIORS, "toy-late", PRIORS["procedural"])
    check(config)


def test_no_plugins_named_imports_nothing_and_a_missing_one_is_named() -> None:
    assert load_plugins("") == [] and load_plugins(" , ") == []
    with pytest.raises(EngineError, match=r"the engine plugin 'not_a_module' .* cannot be imported"):
        load_plugins("not_a_module")
