"""Engine set-up from the preferences: install or repair the private environment, check the engine,
list, download and pick models.

Each job runs in ``runtime.SETUP`` (one at a time, and never beside an engine run that the install would
disturb); only its ``on_done``, on Blender's main thread, writes results into the preferences.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import bpy

from .. import preferences, runtime
from ..bridge import setup_checks, setup_jobs
from ..bridge.engine_venv import base_python, default_env_dir, env_state
from ..bridge.model_list import model_status
from ..bridge.process_chain import JobState, JobStatus, SetupJob
from ..bridge.torch_build import detect_torch_build
from ..engine.payloads import DoctorReport, ModelList

TASK_LOG = "engine-tasks.log"  # checks, model lists and downloads; installs have their own log


def _refuse(operator: bpy.types.Operator, message: str) -> set[str]:
    """A set-up that cannot start: the sentence goes to the preferences panel and the status bar."""
    runtime.SETUP.show(JobState(status=JobStatus.FAILED, message="Failed", error=message))
    operator.report({"ERROR"}, message)
    return {"CANCELLED"}


def _task_log() -> Path:
    path = runtime.user_dir() / TASK_LOG
    path.write_text("", encoding="utf-8")
    return path


def _start(job: SetupJob, on_done: Callable[[bpy.types.Context, JobState], None]) -> set[str]:
    runtime.SETUP.start(job, on_done)
    return {"FINISHED"}


# -- results into the preferences ----------------------------------------------------------------------


def _store_models(prefs: preferences.DreamFusionPreferences, found: ModelList) -> None:
    prefs.models.clear()
    for entry in found.models:
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
    prefs.model_problems = "\n".join(found.problems)


def apply_models(context: bpy.types.Context, state: JobState) -> None:
    """Replace the stored model list with the one in a ``models`` or ``doctor`` result."""
    result = state.result
    if result is None:
        raise ValueError("the engine printed no model list")  # the slot shows it as the job's error
    _store_models(preferences.get(context), result.model_list if isinstance(result, DoctorReport) else result)


def apply_report(context: bpy.types.Context, state: JobState) -> None:
    """Keep a doctor report (versions, device, memory, problems) and its model list."""
    report = state.result
    if not isinstance(report, DoctorReport):
        raise ValueError("the engine printed no report")
    prefs = preferences.get(context)
    prefs.last_check = json.dumps(asdict(report))  # read back with DreamFusionPreferences.last_report
    _store_models(prefs, report.model_list)


# -- operators ------------------------------------------------------------------------------------------


class _SetupOperator(bpy.types.Operator):
    bl_options = frozenset({"REGISTER", "INTERNAL"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if runtime.SETUP.busy():
            cls.poll_message_set("The engine set-up is busy; wait for it or cancel it")
            return False
        return True


class DREAMFUSION_OT_install_engine(_SetupOperator):
    """Create or repair the engine's private Python environment: torch for this machine and the engine's packages"""

    bl_idname = "dreamfusion.install_engine"
    bl_label = "Install Engine"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if runtime.RUNS.busy():
            cls.poll_message_set("A run is using the engine; wait for it or cancel it")
            return False
        return super().poll(context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = preferences.get(context)
        if prefs.engine_python.strip():
            return _refuse(self, "Engine Python names another Python; clear it to install the private environment.")
        wheels = Path(bpy.path.abspath(prefs.wheels_folder.strip())) if prefs.wheels_folder.strip() else None
        problem = setup_checks.install_problem(bpy.app.online_access, wheels, platform.system(), platform.machine())
        if problem:
            return _refuse(self, problem)
        plan = setup_jobs.InstallPlan(
            base_python=base_python(),
            env_dir=default_env_dir(runtime.user_dir()),
            wheels_dir=wheels,
            torch_build=None if wheels else detect_torch_build(),
        )
        try:
            job = setup_jobs.install_job(plan)
        except OSError as exc:
            return _refuse(self, f"Cannot write to {plan.env_dir} ({exc.strerror or exc}); free some disk space.")
        return _start(job, apply_report)


def _engine_python(context: bpy.types.Context) -> tuple[Path, str | None]:
    """The engine's Python and, when it cannot run the engine, the sentence that says why."""
    prefs = preferences.get(context)
    python = preferences.engine_python(context)
    if prefs.engine_python.strip():
        return python, setup_checks.python_problem(python)
    state = env_state(default_env_dir(runtime.user_dir()))
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
        return _start(setup_jobs.check_job(python, prefs.device, folders, _task_log()), apply_report)


class DREAMFUSION_OT_refresh_models(_SetupOperator):
    """List the models on this machine: the Hugging Face cache and the model folders"""

    bl_idname = "dreamfusion.refresh_models"
    bl_label = "Refresh Models"

    def execute(self, context: bpy.types.Context) -> set[str]:
        python, problem = _engine_python(context)
        if problem:  # listing needs only the standard library: Blender's own Python will do
            python = base_python()
        folders = preferences.model_folder_paths(preferences.get(context))
        return _start(setup_jobs.models_job(python, folders, _task_log()), apply_models)


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
        job = setup_jobs.models_job(python, folders, _task_log(), download=self.model_id, token=prefs.hf_token)
        return _start(job, apply_models)


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


class DREAMFUSION_OT_open_engine_log(bpy.types.Operator):
    """Open the log of the last engine set-up in the system's text viewer"""

    bl_idname = "dreamfusion.open_engine_log"
    bl_label = "Open Log"
    bl_options = frozenset({"REGISTER", "INTERNAL"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        path = runtime.SETUP.log_path()
        return path is not None and path.is_file()

    def execute(self, context: bpy.types.Context) -> set[str]:
        bpy.ops.wm.path_open(filepath=str(runtime.SETUP.log_path()))
        return {"FINISHED"}


CLASSES = (
    DREAMFUSION_OT_install_engine,
    DREAMFUSION_OT_check_engine,
    DREAMFUSION_OT_refresh_models,
    DREAMFUSION_OT_download_model,
    DREAMFUSION_OT_use_model,
    DREAMFUSION_OT_open_engine_log,
)
