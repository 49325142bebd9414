"""The one job-slot class, from the installed extension in real bpy, driving real child processes: the fake
engine for runs, the real ``python -m engine models`` for a set-up job. ``pump`` is called by hand, as
background mode needs (timers do not fire there)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import bpy
import pytest

from tests.addon.addon_harness import assert_process_gone, installed, pump_to_end, pump_until
from tests.fixtures import fake_engine


@pytest.fixture
def slot(addon: ModuleType) -> Any:
    """A fresh slot of the installed class (not one of the extension's own), stopped after the test."""
    new = installed("runtime.job_slot").JobSlot("VIEW_3D", interval_running_s=0.1)
    yield new
    new.unregister()


def fake_run(tmp_path: Path, *flags: str, steps: int = 4) -> Any:
    """A ``generate`` run of the fake engine, not started."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    command = [str(fake_engine.write_launcher(tmp_path, *flags)), "-m", "engine", "generate"]
    command += ["--prompt", "a red cube", "--steps", str(steps), "--preview-every", "2", "--out", str(tmp_path / "run")]
    return installed("bridge.engine_run").EngineRun.of(command, tmp_path / "run", "generate")


def test_a_run_is_pumped_to_its_end_and_its_result_brought_in_once(slot, tmp_path: Path) -> None:
    brought_in: list[tuple[str, str]] = []
    run = fake_run(tmp_path)
    assert slot.state() is None and not slot.pump()
    slot.start(run, lambda context, state: brought_in.append((context.scene.name, state.status)))
    pid = slot.active_pid()
    assert slot.busy() and pid == run.pid and slot.state() is run.state
    assert slot.log_path() == tmp_path / "run" / "worker.log"
    with pytest.raises(RuntimeError, match="already running"):
        slot.start(fake_run(tmp_path / "second"), lambda context, state: None)

    state = pump_to_end(slot)
    assert state is run.state and state.status == "done" and (state.step, state.total) == (4, 4)
    assert brought_in == [(bpy.context.scene.name, "done")], "once, on the main thread, after the process exited"
    assert not slot.busy() and slot.active_pid() is None and slot.state() is state, "the last state stays shown"
    assert_process_gone(pid)
    assert not slot.pump()


def test_a_result_that_cannot_be_brought_in_fails_the_run_with_the_reason(slot, tmp_path: Path) -> None:
    def import_fails(context: bpy.types.Context, state: Any) -> None:
        raise ValueError("the mesh file is empty")

    slot.start(fake_run(tmp_path), import_fails)
    state = pump_to_end(slot)
    assert state.status == "failed" and state.error_kind == "import"
    assert state.error == "The run finished but its result could not be imported: the mesh file is empty"


def test_a_failed_or_cancelled_run_brings_nothing_in(slot, tmp_path: Path) -> None:
    brought_in: list[object] = []
    slot.start(fake_run(tmp_path / "error", "--behaviour", "error"), lambda context, state: brought_in.append(state))
    assert pump_to_end(slot).status == "failed"

    slot.start(fake_run(tmp_path / "long", "--step-seconds", "0.05", steps=10**5), brought_in.append)
    pump_until(lambda state: state.step >= 2, slot=slot)
    pid = slot.active_pid()
    slot.cancel()
    assert slot.state().status == "stopping"
    assert pump_to_end(slot).status == "cancelled"
    assert_process_gone(pid)
    assert brought_in == []


def test_shutdown_and_unregister_stop_the_process_and_the_timer_first(slot, tmp_path: Path) -> None:
    slot.register()
    assert bpy.app.timers.is_registered(slot.timer)
    slot.start(fake_run(tmp_path, "--step-seconds", "0.05", steps=10**5), lambda context, state: None)
    pump_until(lambda state: state.step >= 1, slot=slot)
    pid = slot.active_pid()
    slot.unregister()
    assert not bpy.app.timers.is_registered(slot.timer)
    assert_process_gone(pid)
    assert not slot.busy() and not slot.pump()


def test_a_set_up_job_runs_in_the_same_slot_class(slot, tmp_path: Path) -> None:
    """The real engine's ``models`` command (standard library only), its result parsed into the payload."""
    slot.redraw_area = "PREFERENCES"
    job = installed("bridge.setup_jobs").models_job(Path(sys.executable), [tmp_path / "no-models"], tmp_path / "log")
    found: list[Any] = []
    slot.start(job, lambda context, state: found.append(state.result))
    assert slot.busy() and slot.state().message == "Listing models"
    state = pump_to_end(slot)
    assert state.status == "done" and state.fraction == 1.0
    (models,) = found
    assert models.models[0].id == "procedural"
    assert models.problems == [
        f"The model folder {tmp_path / 'no-models'} does not exist; fix or remove it in the preferences."
    ]
    assert slot.log_path() == tmp_path / "log" and '"command": "models"' in (tmp_path / "log").read_text()


def test_a_job_that_cannot_start_is_shown_and_leaves_the_slot_free(slot, tmp_path: Path) -> None:
    job = installed("bridge.setup_jobs").models_job(tmp_path / "no-python", [], tmp_path / "log")
    state = slot.start(job, lambda context, state: None)
    assert state.status == "failed" and "Cannot start the engine with" in state.error
    assert not slot.busy() and slot.state() is state
