"""The one engine run at a time: started by an operator, pumped on Blender's main thread, always stopped.

A persistent ``bpy.app.timers`` callback calls ``pump`` a few times a second in the UI. Timers do
not fire in background mode (``blender -b``, the ``bpy`` module), so scripts and tests call
``pump`` themselves until it returns False::

    bpy.ops.dreamfusion.generate()
    while run_manager.pump():
        time.sleep(0.1)
    run_manager.state()  # the finished RunState: status, result or error

Disabling the extension stops the worker (stop line, SIGTERM, kill); so does quitting Blender, which
disables every add-on on exit (tests/addon/test_install.py checks both).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bpy

from .. import preferences
from ..bridge.command_line import resolve_engine_python
from ..bridge.run_state import RunState, RunStatus
from ..bridge.worker import EngineWorker
from ..scene.preview_image import show_preview

ADDON_PACKAGE = __package__.rpartition(".")[0]  # the extension's package, e.g. bl_ext.user_default.dreamfusion
TIMER_INTERVAL_RUNNING_S = 0.1
TIMER_INTERVAL_IDLE_S = 0.5

OnDone = Callable[[bpy.types.Context, RunState], None]


@dataclass
class _ActiveRun:
    worker: EngineWorker
    state: RunState
    on_done: OnDone  # called on the main thread once the process exited after ``done``


_active: _ActiveRun | None = None
_last_state: RunState | None = None


def busy() -> bool:
    """True while an engine process is alive (a second run is refused until then)."""
    return _active is not None


def active_pid() -> int | None:
    """The running engine's process id (for diagnostics and tests), else None."""
    return _active.worker.pid if _active is not None else None


def state() -> RunState | None:
    """The running run's state, else the last run's (what the panel shows), else None."""
    return _active.state if _active is not None else _last_state


def user_dir() -> Path:
    """The extension's own user folder (run folders, the private engine environment)."""
    return Path(bpy.utils.extension_path_user(ADDON_PACKAGE, create=True))


def engine_python(context: bpy.types.Context) -> Path:
    """The engine's Python from the preferences; raises RequestError with what to do if there is none."""
    return resolve_engine_python(preferences.engine_python_setting(preferences.get(context)), user_dir())


def start(worker: EngineWorker, kind: str, on_done: OnDone) -> None:
    """Start ``worker`` as the current run; raises WorkerStartError when the process cannot start."""
    global _active, _last_state
    if _active is not None:
        raise RuntimeError("a run is already going")
    worker.start()
    _active = _ActiveRun(worker=worker, state=RunState(kind=kind), on_done=on_done)
    _last_state = None
    _tag_redraw()


def report_failure(message: str, kind: str, run_kind: str = "generate") -> None:
    """Show a failure that happened before any process ran (bad settings, no engine)."""
    global _last_state
    failed = RunState(kind=run_kind)
    failed.fail(message, kind)
    _last_state = failed
    _tag_redraw()


def cancel() -> None:
    """Ask the run to stop; ``pump`` escalates to SIGTERM and kill if it does not."""
    if _active is None:
        return
    _active.state.request_cancel()
    _active.worker.request_stop()
    _tag_redraw()


def pump() -> bool:
    """Apply the worker's queued messages on the main thread; returns True while a run is going.

    Shows new previews, drives the stop escalation, and when the process has exited after ``done``
    calls the run's ``on_done`` (the import). Call it only from Blender's main thread.
    """
    global _active, _last_state
    run = _active
    if run is None:
        return False
    preview_before = run.state.preview_path
    for message in run.worker.drain():
        run.state.apply(message, forced=run.worker.forced)
    run.worker.escalate()
    if run.state.preview_path and run.state.preview_path != preview_before:
        try:
            show_preview(Path(run.state.preview_path))
        except RuntimeError as exc:  # an unreadable preview must not end the run
            run.state.log_tail.append(f"preview not shown: {exc}")
    if run.state.finished:
        _active = None
        _last_state = run.state
        if run.state.status is RunStatus.DONE:
            _finish(run)
    _tag_redraw()
    return _active is not None


def _finish(run: _ActiveRun) -> None:
    windows = bpy.context.window_manager.windows
    override = {"window": windows[0]} if windows else {}
    try:
        with bpy.context.temp_override(**override):
            run.on_done(bpy.context, run.state)
    except Exception as exc:  # the result could not be brought in: say so, leave the scene as it was
        traceback.print_exc()
        run.state.fail(f"The run finished but its result could not be imported: {exc}", "import")


def shutdown() -> None:
    """Stop any running engine for good (blocking, a few seconds at most): on unregister, so also on quit."""
    global _active
    run = _active
    _active = None
    if run is not None:
        run.worker.shutdown()


def _tick() -> float:
    try:
        pump()
    except Exception:  # keep the persistent timer alive; the traceback goes to the console
        traceback.print_exc()
    return TIMER_INTERVAL_RUNNING_S if busy() else TIMER_INTERVAL_IDLE_S


def _tag_redraw() -> None:
    window_manager = bpy.context.window_manager
    if window_manager is None:
        return
    for window in window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def register() -> None:
    bpy.app.timers.register(_tick, first_interval=TIMER_INTERVAL_IDLE_S, persistent=True)


def unregister() -> None:
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    shutdown()
