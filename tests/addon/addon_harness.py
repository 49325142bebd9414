"""Helpers of the add-on tests: a temporary HOME, the installed package's parts, pumping a run to its end.

bpy reads the user folders from HOME when it is imported, so importing this module switches HOME to
a temporary folder first (the conftest imports it before anything else imports bpy). Caches
(``XDG_CACHE_HOME``: priors, model hubs) stay where they were.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

if "bpy" in sys.modules:
    raise RuntimeError("bpy was imported before tests/addon could point HOME at a temporary folder")
REAL_HOME = Path.home()
TEMP_HOME = Path(tempfile.mkdtemp(prefix="dreamfusion-test-home-"))
os.environ.setdefault("XDG_CACHE_HOME", str(REAL_HOME / ".cache"))
os.environ["HOME"] = str(TEMP_HOME)
for _name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "BLENDER_USER_RESOURCES", "BLENDER_USER_CONFIG",
              "BLENDER_USER_SCRIPTS", "BLENDER_USER_EXTENSIONS", "BLENDER_USER_DATAFILES"):  # fmt: skip
    os.environ.pop(_name, None)

import bpy  # noqa: E402

PACKAGE = "bl_ext.user_default.dreamfusion"
RUN_TIMEOUT_S = 30.0


def preferences() -> bpy.types.AddonPreferences:
    return bpy.context.preferences.addons[PACKAGE].preferences


def installed(module: str) -> ModuleType:
    """A module of the installed extension, e.g. ``installed("bridge.engine_venv")``."""
    return importlib.import_module(f"{PACKAGE}.{module}")


def runs() -> Any:
    """The installed extension's slot for engine runs (``runtime.RUNS``)."""
    return installed("runtime").RUNS


def configure(engine_python: Path | str, prompt: str = "a red cube", **settings: object) -> None:
    """Point the preferences at ``engine_python`` and fill in the panel's settings."""
    preferences().engine_python = str(engine_python)
    scene_settings = bpy.context.scene.dreamfusion
    scene_settings.prompt = prompt
    for key, value in settings.items():
        setattr(scene_settings, key, value)


def pump_to_end(slot: Any, timeout: float = RUN_TIMEOUT_S) -> Any:
    """Pump ``slot`` on this (main) thread, as its UI timer would, until its job has finished; the final state."""
    deadline = time.monotonic() + timeout
    while slot.pump():
        assert time.monotonic() < deadline, f"the job did not finish within {timeout} s: {slot.state()}"
        time.sleep(0.02)
    return slot.state()


def run_to_end(timeout: float = RUN_TIMEOUT_S) -> Any:
    """``pump_to_end`` of the extension's engine run: its RunState."""
    return pump_to_end(runs(), timeout)


def pump_until(condition: Callable[[Any], bool], timeout: float = RUN_TIMEOUT_S, slot: Any = None) -> None:
    """Pump ``slot`` (default: the extension's engine runs) until ``condition`` holds for its state."""
    slot = runs() if slot is None else slot
    deadline = time.monotonic() + timeout
    while not condition(slot.state()):
        assert slot.pump(), f"the run ended before the condition held: {slot.state()}"
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(0.02)


def assert_process_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
