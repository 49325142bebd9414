"""Engine set-up through the installed extension's preferences and operators: install from a folder of wheels,
check, the model list, picking a model, the sentences for bad input, and preferences that survive a save and load."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

import bpy
import pytest

from tests.addon.addon_harness import installed, preferences, pump_to_end
from tools.addon_package import source_package

source_package("dreamfusion")  # the bridge tests' package name, which their wheel builders import under
from tests.bridge.doctor_reports import doctor_report  # noqa: E402
from tests.bridge.test_engine_env import build_wheel, dev_packages_wheel  # noqa: E402

JOB_TIMEOUT_S = 120.0


def reset_preferences() -> None:
    """The defaults of everything this file changes, so other add-on tests see a fresh extension."""
    prefs = preferences()
    for name in ("engine_python", "wheels_folder", "model_folders", "default_model", "hf_token", "last_check"):
        setattr(prefs, name, "")
    prefs.device, prefs.default_prior = "auto", "procedural"
    prefs.models.clear()


@pytest.fixture
def setup(addon: ModuleType) -> Iterator[Any]:
    """The installed extension's set-up slot (``runtime.SETUP``), with default preferences before and after;
    its job stopped after."""
    slot = installed("runtime").SETUP
    reset_preferences()
    yield slot
    slot.shutdown()
    reset_preferences()


@pytest.fixture
def engine_venv(addon: ModuleType) -> ModuleType:
    """The installed ``bridge.engine_venv``: where the private environment is and what state it is in."""
    return installed("bridge.engine_venv")


def user_dir() -> Path:
    return installed("runtime").user_dir()


def refused(operator, setup: Any) -> str:
    """Run an operator that must refuse to start; its sentence (the panel shows the same)."""
    with pytest.raises(RuntimeError) as error:
        operator()
    state = setup.state()
    assert state.status == "failed" and state.error in str(error.value)
    return state.error


def studio_wheels(folder: Path, requirements: Path) -> Path:
    """A studio's wheels folder for ``requirements``: metadata-only stand-ins at the versions this test
    environment has, the one for torch lending the environment's real packages, so nothing is downloaded."""
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:==(\S+))?", line)
        if match:
            name, version = match[1], match[2] or importlib.metadata.version(match[1])
            if name == "torch":
                dev_packages_wheel(folder, name, version)
            else:
                build_wheel(folder, name, version, {})
    return folder


@pytest.mark.slow
def test_install_from_wheels_makes_the_private_environment_that_check_then_uses(
    setup, engine_venv, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    prefs = preferences()
    env_dir = engine_venv.default_env_dir(user_dir())
    request.addfinalizer(lambda: shutil.rmtree(env_dir, ignore_errors=True))  # later tests start with no engine
    assert engine_venv.env_state(env_dir).status == "missing"

    prefs.wheels_folder = str(studio_wheels(tmp_path / "wheels", engine_venv.REQUIREMENTS))
    assert bpy.ops.dreamfusion.install_engine() == {"FINISHED"}
    assert setup.busy() and setup.state().message == "Creating the engine environment"
    state = pump_to_end(setup, JOB_TIMEOUT_S)
    assert state.status == "done", state.error
    assert engine_venv.env_state(env_dir).ready
    python = str(engine_venv.venv_python(env_dir))
    report = json.loads(prefs.last_check)  # the install's own self-check is kept
    assert report["ready"] and report["python_executable"] == python
    assert prefs.models[0].model_id == "procedural"

    prefs.last_check = ""
    prefs.device = "cpu"
    assert bpy.ops.dreamfusion.check_engine() == {"FINISHED"}
    assert pump_to_end(setup, JOB_TIMEOUT_S).status == "done"
    report = json.loads(prefs.last_check)
    assert report["python_executable"] == python and report["device"] == "cpu"


def build_tiny_stable_diffusion(path: Path) -> Path:
    """The tiny real checkpoint of tests/fixtures, saved by another process: Blender's never imports torch."""
    script = "import sys, pathlib; from tests.fixtures.tiny_models import build_tiny_stable_diffusion as build; "
    script += "build(pathlib.Path(sys.argv[1]))"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script, str(path)], cwd=root, check=True, capture_output=True)
    return path


@pytest.mark.slow
def test_refresh_lists_local_models_and_use_picks_one(setup, tmp_path: Path) -> None:
    model = build_tiny_stable_diffusion(tmp_path / "models" / "tiny-sd")
    prefs = preferences()
    prefs.engine_python = sys.executable
    prefs.model_folders = f"{tmp_path / 'models'}; {tmp_path / 'gone'}"
    assert bpy.ops.dreamfusion.refresh_models() == {"FINISHED"}
    assert pump_to_end(setup, JOB_TIMEOUT_S).status == "done"

    items = {item.model_id: item for item in prefs.models}
    assert list(items)[:2] == ["procedural", str(model)]
    local = items[str(model)]
    assert (local.kind, local.present, local.complete, local.name) == ("stable-diffusion", True, True, "tiny-sd")
    assert re.fullmatch(r"Ready · \d+\.\d [KM]B", local.status)
    deepfloyd = items["DeepFloyd/IF-I-XL-v1.0"]
    assert deepfloyd.downloadable and deepfloyd.gated and not deepfloyd.present
    assert "huggingface.co/DeepFloyd/IF-I-XL-v1.0" in deepfloyd.status
    assert prefs.model_problems == (
        f"The model folder {tmp_path / 'gone'} does not exist; fix or remove it in the preferences."
    )

    assert bpy.ops.dreamfusion.use_model(model_id=str(model), kind="stable-diffusion") == {"FINISHED"}
    assert (prefs.default_prior, prefs.default_model) == ("stable-diffusion", str(model))
    bpy.ops.dreamfusion.use_model(model_id="procedural", kind="procedural")
    assert (prefs.default_prior, prefs.default_model) == ("procedural", "")


@pytest.mark.slow
def test_check_with_a_gpu_setting_and_no_gpu_says_so_and_offers_cpu(setup) -> None:
    prefs = preferences()
    prefs.engine_python = sys.executable
    prefs.device = "cuda"
    assert bpy.ops.dreamfusion.check_engine() == {"FINISHED"}
    assert pump_to_end(setup, JOB_TIMEOUT_S).status == "done"
    report = json.loads(prefs.last_check)
    if report["cuda"]["available"]:
        pytest.skip("needs a machine without CUDA")
    assert report["ready"] is False and report["device"] is None
    assert report["problems"][0].startswith("CUDA was requested but")
    summary = installed("bridge.doctor_summary").doctor_summary(preferences().last_report())
    assert "Device: cuda is not available here (auto would use cpu)" in summary


def test_bad_engine_python_and_offline_blender_get_one_sentence_each(setup, tmp_path: Path) -> None:
    prefs = preferences()
    prefs.engine_python = str(tmp_path / "no-python")
    assert refused(bpy.ops.dreamfusion.check_engine, setup) == (
        f"No Python found at {tmp_path / 'no-python'}; choose another Python, "
        "or clear Engine Python to use the private environment."
    )
    assert refused(bpy.ops.dreamfusion.install_engine, setup) == (
        "Engine Python names another Python; clear it to install the private environment."
    )
    prefs.engine_python = ""
    assert refused(bpy.ops.dreamfusion.check_engine, setup) == "The engine is not installed yet; click Install Engine."

    assert not bpy.app.online_access  # the bpy module runs offline, as a studio without internet would
    assert refused(bpy.ops.dreamfusion.install_engine, setup).startswith("Blender is set to work offline;")
    assert refused(lambda: bpy.ops.dreamfusion.download_model(model_id="DeepFloyd/IF-I-XL-v1.0"), setup) == (
        "Blender is set to work offline; allow online access in Preferences > System > Network."
    )


def test_preferences_survive_saving_and_loading_the_user_preferences(setup, tmp_path: Path) -> None:
    prefs = preferences()
    saved = {
        "engine_python": str(tmp_path / "studio" / "python"),
        "wheels_folder": str(tmp_path / "wheels"),
        "model_folders": f"{tmp_path / 'a'};{tmp_path / 'b'}",
        "default_prior": "deepfloyd-if",
        "default_model": "DeepFloyd/IF-I-XL-v1.0",
        "device": "cpu",
        "last_check": json.dumps(asdict(doctor_report(device_requested="cpu", problems=["No xatlas"], ready=False))),
    }
    for name, value in saved.items():
        setattr(prefs, name, value)
    item = prefs.models.add()
    item.name, item.model_id, item.status = "tiny", "/models/tiny", "Ready · 1.0 MB"
    assert bpy.ops.wm.save_userpref() == {"FINISHED"}

    for name in ("engine_python", "wheels_folder", "model_folders", "default_model", "last_check"):
        setattr(prefs, name, "")
    prefs.default_prior, prefs.device = "procedural", "auto"
    prefs.models.clear()
    assert bpy.ops.wm.read_userpref() == {"FINISHED"}

    prefs = preferences()
    assert {name: getattr(prefs, name) for name in saved} == saved
    assert [(i.name, i.model_id, i.status) for i in prefs.models] == [("tiny", "/models/tiny", "Ready · 1.0 MB")]
    report = prefs.last_report()  # the stored check loads with the function the panel draws it with
    assert asdict(report) == json.loads(saved["last_check"]) and report.problems == ["No xatlas"]
