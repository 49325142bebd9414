"""What lives while Blender runs and is never saved or undone: the two job slots, the running queue item and
the extension's user folder.

``RUNS`` holds the engine run (generate, re-extract, a queue item) the sidebar shows; ``SETUP`` the engine
set-up job (install, check, models) the preferences show. One engine process at a time across both: an
operator asks ``run_refusal`` (or the set-up operators ask ``RUNS.busy``) before it starts one. ``QUEUE``
names the queue item that ``RUNS`` works on, while it works on one.

Disabling the extension stops whatever runs (stop line, SIGTERM, kill); so does quitting Blender,
which disables every add-on on exit (tests/addon/test_install.py checks both).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import bpy

from ..bridge.command_line import RequestError
from ..bridge.engine_run import EngineRun
from ..bridge.process_chain import JobState
from ..bridge.run_state import RunState
from ..bridge.worker import WorkerStartError
from ..scene.preview_image import show_preview
from .job_slot import JobSlot
from .queue_run import QueueRun

ADDON_PACKAGE = __package__.rpartition(".")[0]  # the extension's package, e.g. bl_ext.user_default.dreamfusion


def _show_new_preview(run: EngineRun) -> None:
    path = run.new_preview()
    if path is None:
        return
    try:
        show_preview(path)
    except RuntimeError as exc:  # an unreadable preview must not end the run
        run.state.log_tail.append(f"preview not shown: {exc}")


RUNS: JobSlot[RunState] = JobSlot("VIEW_3D", interval_running_s=0.1, on_poll=_show_new_preview)
SETUP: JobSlot[JobState] = JobSlot("PREFERENCES", interval_running_s=0.2)
QUEUE = QueueRun()


def run_refusal() -> str | None:
    """Why no engine run can start now (one engine process at a time), or None."""
    if RUNS.busy():
        return "A run is already going: cancel it or wait until it finishes"
    if SETUP.busy():
        return "The engine set-up is busy: wait for it to finish"
    return None


def show_refused_run(message: str, kind: str) -> None:
    """Show a run of ``kind`` ("generate", "remesh") refused before any process ran: bad settings, no engine."""
    refused = RunState(kind=kind)
    refused.fail(message, "input")
    RUNS.show(refused)


def start_or_report(operator: bpy.types.Operator, kind: str, start: Callable[[], None]) -> bool:
    """Call ``start``, which starts a run of ``kind`` ("generate", "remesh") in RUNS, unless a run or the set-up is
    busy. A refusal, or a start that cannot work (bad settings, no engine), is reported; the latter also shows in
    the panel. True: the run started."""
    refusal = run_refusal()
    if refusal is not None:
        operator.report({"ERROR"}, refusal)
        return False
    try:
        start()
    except (RequestError, WorkerStartError) as exc:
        show_refused_run(str(exc), kind)
        operator.report({"ERROR"}, str(exc))
        return False
    return True


def user_dir() -> Path:
    """The extension's own user folder (run folders, the private engine environment, set-up logs)."""
    return Path(bpy.utils.extension_path_user(ADDON_PACKAGE, create=True))


def register() -> None:
    RUNS.register()
    SETUP.register()


def unregister() -> None:
    SETUP.unregister()
    RUNS.unregister()
    QUEUE.end()
