"""Command lines are argument lists the real engine's parser accepts, with exactly the user's values; and the
Python that runs them is the one the preferences name, else the private environment once it is ready."""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dreamfusion.bridge import engine_venv
from dreamfusion.bridge.command_line import (
    ENGINE_CWD,
    GenerateRequest,
    RequestError,
    engine_python_path,
    generate_command,
    remesh_command,
    resolve_engine_python,
    resume_command,
)

from engine.config_assembly import build_config
from tests.bridge.test_engine_env import make_venv, mark_ready

ROOT = Path(__file__).resolve().parents[2]


def engine_parser(command: str) -> argparse.ArgumentParser:
    module = importlib.import_module(f"engine.commands.{command}")
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser


def test_the_engine_runs_from_the_folder_that_holds_it() -> None:
    assert (ENGINE_CWD / "engine" / "__main__.py").is_file()
    assert ENGINE_CWD == ROOT


def test_every_setting_reaches_the_real_generate_parser(tmp_path: Path) -> None:
    request = GenerateRequest(
        prompt="  a  wooden\tchair ", out=tmp_path / "run", prior="stable-diffusion", negative_prompt="blurry",
        model="/models/sd15", preset="quality", steps=321, seed=7, guidance_scale=42.5, device="cpu",
        preview_every=25, perp_neg=True, low_memory=True,
    )  # fmt: skip
    command = generate_command(Path("/opt/py/bin/python"), request)
    assert command[:4] == ["/opt/py/bin/python", "-m", "engine", "generate"]
    args = engine_parser("generate").parse_args(command[4:])
    assert args.prompt == "a wooden chair"
    assert (args.prior, args.negative_prompt, args.model) == ("stable-diffusion", "blurry", "/models/sd15")
    assert args.preset == "quality"
    assert (args.steps, args.seed, args.guidance_scale, args.device, args.preview_every) == (321, 7, 42.5, "cpu", 25)
    assert Path(args.out) == tmp_path / "run"
    assert args.low_memory is True and args.set == ["guidance.perp_neg.enabled=true"]
    config = build_config(args)
    assert config.guidance.perp_neg.enabled is True and config.guidance.low_memory is True, "the engine's own config"


def test_defaults_are_left_to_the_engine(tmp_path: Path) -> None:
    command = generate_command(Path("python"), GenerateRequest(prompt="a red cube", out=tmp_path))
    for flag in ("--negative-prompt", "--model", "--steps", "--guidance-scale", "--preview-every"):
        assert flag not in command
    args = engine_parser("generate").parse_args(command[4:])
    assert args.steps is None and args.guidance_scale is None and args.preset == "balanced"


def test_a_prompt_that_starts_with_a_dash_stays_a_prompt(tmp_path: Path) -> None:
    request = GenerateRequest(prompt="-a red cube", out=tmp_path, negative_prompt="--blurry")
    args = engine_parser("generate").parse_args(generate_command(Path("python"), request)[4:])
    assert (args.prompt, args.negative_prompt) == ("-a red cube", "--blurry")


@pytest.mark.parametrize("low_memory", [False, True])
def test_resume_command_is_accepted_by_the_engine(tmp_path: Path, low_memory: bool) -> None:
    command = resume_command(Path("python"), tmp_path / "run", low_memory)
    args = engine_parser("generate").parse_args(command[4:])
    assert Path(args.resume) == tmp_path / "run"
    assert args.low_memory is (True if low_memory else None), "not given, the run keeps its config.json's setting"


def test_remesh_command_is_accepted_by_the_engine(tmp_path: Path) -> None:
    command = remesh_command(Path("python"), tmp_path / "run", 12.5)
    assert command[:4] == ["python", "-m", "engine", "remesh"]
    args = engine_parser("remesh").parse_args(command[4:])
    assert Path(args.run_dir) == tmp_path / "run" and args.threshold == 12.5
    automatic = remesh_command(Path("python"), tmp_path / "run", None)
    assert "--threshold" not in automatic and engine_parser("remesh").parse_args(automatic[4:]).threshold is None


@pytest.mark.parametrize("prompt", ["", "   \n\t"])
def test_an_empty_prompt_is_refused_with_what_to_do(prompt: str, tmp_path: Path) -> None:
    with pytest.raises(RequestError, match="Type a prompt first"):
        GenerateRequest(prompt=prompt, out=tmp_path)


def test_an_overlong_prompt_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RequestError, match="keep it under 300"):
        GenerateRequest(prompt="cube " * 100, out=tmp_path)


def test_engine_python_from_the_preferences(tmp_path: Path) -> None:
    assert engine_python_path(f"  {sys.executable} ", tmp_path) == Path(sys.executable)
    assert engine_python_path("~/py/bin/python", tmp_path) == Path.home() / "py" / "bin" / "python"
    assert resolve_engine_python(sys.executable, tmp_path) == Path(sys.executable)
    missing = tmp_path / "missing" / "python"
    with pytest.raises(RequestError, match=f"The Engine Python {re.escape(str(missing))} does not exist; fix it"):
        resolve_engine_python(str(missing), tmp_path)
    with pytest.raises(RequestError, match="does not exist"):
        resolve_engine_python(str(tmp_path), tmp_path)  # a folder is not a Python


def test_without_a_preference_the_private_environment_runs_once_it_is_ready(tmp_path: Path) -> None:
    """The path the check and install use before the environment exists is the one a run gets after."""
    planned = engine_python_path("  ", tmp_path)
    with pytest.raises(RequestError, match=r"^Set up the engine first: The engine is not installed yet; click"):
        resolve_engine_python("  ", tmp_path)
    env_dir = engine_venv.default_env_dir(tmp_path)
    make_venv(env_dir)
    with pytest.raises(RequestError, match="Set up the engine first: The last engine install did not finish"):
        resolve_engine_python("", tmp_path)
    mark_ready(env_dir, engine_venv.REQUIREMENTS)
    python = resolve_engine_python("", tmp_path)
    assert python == planned
    prefix = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True)
    assert Path(prefix.stdout.strip()) == env_dir
