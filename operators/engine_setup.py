"""Engine set-up from the preferences: install or repair the private environment, check the engine,
list, download and pick models.

One set-up job at a time, each a chain of child processes (``bridge.engine_env.SetupJob``). A timer
calls ``pump`` on Blender's main thread while a job runs; only ``pump`` writes results into the
preferences. Timers do not fire in background mode, so scripts and tests call ``pump`` themselves
until it returns False.
"""

from __future__ import annotations

import json
import platform
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from .. import preferences
from ..bridge import engine_env
from ..bridge.engine_env import JobState, JobStatus, SetupJob
from ..bridge.model_list import model_entries, model_status
from . import run_manager

TIMER_INTERVAL_S = 0.2
TASK_LOG = "engine-tasks.log"  # checks, model lists and downloads; installs have their own log

OnDone = Callable[[bpy.types.Context, dict[str, Any] | None], None]


@dataclass
class _ActiveJob:
    job: SetupJob
    on_done: OnDone  # applies the job's last result event to the preferences, on the main thread


_active: _ActiveJob | None = None
_last: JobState | None = None
_log_path: Path | None = None


def busy() -> bool:
    return _active is not None


def job_state() -> JobState | None:
    """The running job's state, else the last one's (what the preferences show), else None."""
    return _active.job.state if _active is not None else _last


def log_path() -> Path | None:
    """The log of the running or last job."""
    return _log_path


def user_dir() -> Path:
    return run_manager.user_dir()


def pump() -> bool:
    """Fold in the job's output; when it has succeeded, apply its result. True while a job runs."""
    global _active, _last
    active = _active
    if active is None:
        return False
    state = active.job.poll()
    if state.finished:
        _active, _last = None, state
        if state.status is JobStatus.DONE:
            try:
                active.on_done(bpy.context, state.result)
            except Exception as exc:  # an unexpected result must not kill the timer; say what happened
                traceback.print_exc()
                state.status, state.error = JobStatus.FAILED, f"The engine's answer could not be read: {exc}."
    _tag_redraw()
    return _active is not None


def _tick() -> float | None:
    try:
        return TIMER_INTERVAL_S if pump() else None
    except Exception:  # keep Blender going; the traceback goes to the console
        traceback.print_exc()
        return TIMER_INTERVAL_S if busy() else None


def _start(job: SetupJob, on_done: OnDone) -> JobState:
    global _active, _last, _log_path
    _log_path = job.log_path
    state = job.start()
    if state.finished:  # the first process could not even start
        _last = state
    else:
        _active, _last = _ActiveJob(job, on_done), None
        if not bpy.app.timers.is_registered(_tick):
            bpy.app.timers.register(_tick, first_interval=TIMER_INTERVAL_S)
    _tag_redraw()
    return state


def _refuse(operator: bpy.types.Operator, message: str) -> set[str]:
    """A set-up that cannot start: the sentence goes to the preferences panel and the status bar."""
    global _last
    _last = JobState(status=JobStatus.FAILED, message="Failed", error=message)
    operator.report({"ERROR"}, message)
    _tag_redraw()
    return {"CANCELLED"}


def _task_log() -> Path:
    path = user_dir() / TASK_LOG
    path.write_text("", encoding="utf-8")
    return path


def _tag_redraw() -> None:
    window_manager = bpy.context.window_manager
    if window_manager is None:
        return
    for window in window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


# -- results into the preferences ----------------------------------------------------------------------


def apply_models(context: bpy.types.Context, result: dict[str, Any] | None) -> None:
    """Replace the stored model list with the one in a ``models`` or ``doctor`` result."""
    if result is None:
        raise ValueError("the engine printed no model list")
    prefs = preferences.get(context)
    prefs.models.clear()
    for entry in model_entries(result):
        item = prefs.models.add()
        item.name = entry.name
        item.model_id = entry.id
        item.kind = entry.kind
        item.source = entry.source
        item.path = entry.path or ""
        item.present = entry.present
        item.complete = entry.complete
        item.downloadable = entry.downloadable
        item.gated = entry.gated
        item.status = model_status(entry)
    problems_key = "model_problems" if result.get("command") == "doctor" else "problems"
    prefs.model_problems = "\n".join(result.get(problems_key) or [])


def apply_report(context: bpy.types.Context, result: dict[str, Any] | None) -> None:
    """Keep a doctor report (versions, device, memory, problems) and its model list."""
    if result is None or result.get("command") != "doctor":
        raise ValueError("the engine printed no report")
    preferences.get(context).last_check = json.dumps(result)
    apply_models(context, result)


# -- operators ------------------------------------------------------------------------------------------


class _SetupOperator(bpy.types.Operator):
    bl_options = frozenset({"REGISTER", "INTERNAL"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if busy():
            cls.poll_message_set("The engine set-up is busy; wait for it or cancel it")
            return False
        return True


class DREAMFUSION_OT_install_engine(_SetupOperator):
    """Create or repair the engine's private Python environment: torch for this machine and the engine's packages"""

    bl_idname = "dreamfusion.install_engine"
    bl_label = "Install Engine"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if run_manager.busy():
            cls.poll_message_set("A run is using the engine; wait for it or cancel it")
            return False
        return super().poll(context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = preferences.get(context)
        if prefs.engine_python.strip():
            return _refuse(self, "Engine Python names another Python; clear it to install the private environment.")
        wheels = Path(bpy.path.abspath(prefs.wheels_folder.strip())) if prefs.wheels_folder.strip() else None
        problem = engine_env.install_problem(bpy.app.online_access, wheels, platform.system(), platform.machine())
        if problem:
            return _refuse(self, problem)
        plan = engine_env.InstallPlan(
            base_python=engine_env.base_python(),
            env_dir=engine_env.default_env_dir(user_dir()),
            wheels_dir=wheels,
            torch_build=None if wheels else engine_env.detect_torch_build(),
        )
        try:
            job = engine_env.install_job(plan)
        except OSError as exc:
            return _refuse(self, f"Cannot write to {plan.env_dir} ({exc.strerror or exc}); free some disk space.")
        _start(job, apply_report)
        return {"FINISHED"}


def _engine_python(context: bpy.types.Context) -> tuple[Path, str | None]:
    """The engine's Python and, when it cannot run the engine, the sentence that says why."""
    prefs = preferences.get(context)
    python = preferences.engine_python_path(prefs, user_dir())
    if prefs.engine_python.strip():
        return python, engine_env.python_problem(python)
    state = engine_env.env_state(engine_env.default_env_dir(user_dir()))
    return python, None if python.exists() else state.message


class DREAMFUSION_OT_check_engine(_SetupOperator):
    """Run the engine's self-check in its Python: versions, device, free memory and the models found"""

    bl_idname = "dreamfusion.check_engine"
    bl_label = "Check Engine"

    def execute(self, context: bpy.types.Context) -> set[str]:
        python, problem = _engine_python(context)
        if problem:
            return _refuse(self, problem)
        prefs = preferences.get(context)
        folders = preferences.model_folder_paths(prefs)
        _start(engine_env.check_job(python, prefs.device, folders, _task_log()), apply_report)
        return {"FINISHED"}


class DREAMFUSION_OT_refresh_models(_SetupOperator):
    """List the models on this machine: the Hugging Face cache and the model folders"""

    bl_idname = "dreamfusion.refresh_models"
    bl_label = "Refresh Models"

    def execute(self, context: bpy.types.Context) -> set[str]:
        python, problem = _engine_python(context)
        if problem:  # listing needs only the standard library: Blender's own Python will do
            python = engine_env.base_python()
        folders = preferences.model_folder_paths(preferences.get(context))
        _start(engine_env.models_job(python, folders, _task_log()), apply_models)
        return {"FINISHED"}


class DREAMFUSION_OT_download_model(_SetupOperator):
    """Download this model into the Hugging Face cache (safetensors weights only)"""

    bl_idname = "dreamfusion.download_model"
    bl_label = "Download Model"

    model_id: bpy.props.StringProperty(name="Model", options={"HIDDEN", "SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not bpy.app.online_access:
            return _refuse(
                self, "Blender is set to work offline; allow online access in Preferences > System > Network."
            )
        python, problem = _engine_python(context)
        if problem:
            return _refuse(self, problem)
        prefs = preferences.get(context)
        folders = preferences.model_folder_paths(prefs)
        job = engine_env.models_job(python, folders, _task_log(), download=self.model_id, token=prefs.hf_token)
        _start(job, apply_models)
        return {"FINISHED"}


class DREAMFUSION_OT_use_model(bpy.types.Operator):
    """Make this model the default for new runs"""

    bl_idname = "dreamfusion.use_model"
    bl_label = "Use Model"
    bl_options = frozenset({"REGISTER", "INTERNAL"})

    model_id: bpy.props.StringProperty(name="Model", options={"HIDDEN", "SKIP_SAVE"})
    kind: bpy.props.StringProperty(name="Prior", options={"HIDDEN", "SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = preferences.get(context)
        prefs.default_prior = self.kind
        prefs.default_model = "" if self.kind == "procedural" else self.model_id
        context.preferences.is_dirty = True
        return {"FINISHED"}


class DREAMFUSION_OT_cancel_engine_job(bpy.types.Operator):
    """Stop the engine set-up that is running (an unfinished install is not marked ready)"""

    bl_idname = "dreamfusion.cancel_engine_job"
    bl_label = "Cancel"
    bl_options = frozenset({"REGISTER", "INTERNAL"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return busy()

    def execute(self, context: bpy.types.Context) -> set[str]:
        if _active is not None:
            _active.job.cancel()
        return {"FINISHED"}


class DREAMFUSION_OT_open_engine_log(bpy.types.Operator):
    """Open the log of the last engine set-up in the system's text viewer"""

    bl_idname = "dreamfusion.open_engine_log"
    bl_label = "Open Log"
    bl_options = frozenset({"REGISTER", "INTERNAL"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _log_path is not None and _log_path.is_file()

    def execute(self, context: bpy.types.Context) -> set[str]:
        bpy.ops.wm.path_open(filepath=str(_log_path))
        return {"FINISHED"}


CLASSES = (
    DREAMFUSION_OT_install_engine,
    DREAMFUSION_OT_check_engine,
    DREAMFUSION_OT_refresh_models,
    DREAMFUSION_OT_download_model,
    DREAMFUSION_OT_use_model,
    DREAMFUSION_OT_cancel_engine_job,
    DREAMFUSION_OT_open_engine_log,
)


def register() -> None:
    """Nothing beyond ``CLASSES`` (registered by operators/__init__.py): the timer runs only during a job."""


def unregister() -> None:
    """Stop a running job for good (an install stays unmarked, so it shows as interrupted)."""
    global _active
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    active, _active = _active, None
    if active is not None:
        active.job.shutdown()
