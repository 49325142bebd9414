"""Add-on preferences: where the engine's Python is, where models live, defaults for new runs.

The panel is where an artist sets the engine up without a terminal: install or repair the private
environment, check it, see the models on this machine and pick one. Settings persist with Blender's
user preferences; the last check and model list are kept here too, so they survive a redraw or restart.
"""

from __future__ import annotations

import json
from pathlib import Path

import bpy

from . import runtime
from .bridge.choices import DEVICES, prior_enum_items, prior_icon
from .bridge.command_line import engine_python_path, resolve_engine_python
from .bridge.doctor_summary import doctor_summary, offers_device_fallback
from .bridge.engine_venv import EnvStatus, default_env_dir, env_state
from .bridge.process_chain import JobState
from .engine.payloads import DoctorReport, parse_doctor
from .ui_text import draw_wrapped

OFFLINE_SENTENCE = (
    "Download is off because Blender's online access is off: turn on Allow Online Access in "
    "Preferences > System > Network, or put the model's folder in Model Folders."
)


def _alert_column(layout: bpy.types.UILayout) -> bpy.types.UILayout:
    """A column whose labels Blender draws in red."""
    column = layout.column()
    column.alert = True
    return column


class DreamFusionModelItem(bpy.types.PropertyGroup):
    """One row of the model list, from the engine's ``models`` or ``doctor`` result (``name``: what a person reads)."""

    model_id: bpy.props.StringProperty(name="Model", description="Hub id or folder of the model")
    kind: bpy.props.StringProperty(name="Prior")
    source: bpy.props.StringProperty(name="Source")
    path: bpy.props.StringProperty(name="Folder", subtype="DIR_PATH")
    present: bpy.props.BoolProperty(name="On This Machine")
    complete: bpy.props.BoolProperty(name="Complete")
    downloadable: bpy.props.BoolProperty(name="Downloadable")
    gated: bpy.props.BoolProperty(name="Needs a Licence")
    status: bpy.props.StringProperty(name="Status", description="Size, or what is missing and how to fix it")


class DreamFusionPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    engine_python: bpy.props.StringProperty(
        name="Engine Python",
        description="Python with torch that runs the engine; empty: the private environment",
        subtype="FILE_PATH",
    )
    wheels_folder: bpy.props.StringProperty(
        name="Offline Wheels",
        description="Install the engine only from this folder of wheels (for studios without internet); "
        "empty: download from the package index",
        subtype="DIR_PATH",
    )
    model_folders: bpy.props.StringProperty(
        name="Model Folders",
        description="Extra folders with diffusers models, separated by ';' (the Hugging Face cache is always searched)",
    )
    default_prior: bpy.props.EnumProperty(name="Default Prior", items=prior_enum_items(), default="procedural")
    default_model: bpy.props.StringProperty(
        name="Default Model",
        description="Hub id or folder of the model new runs of the default prior use; empty: the prior's default",
    )
    device: bpy.props.EnumProperty(name="Device", items=[device.enum_item() for device in DEVICES], default="auto")
    hf_token: bpy.props.StringProperty(
        name="Hugging Face Token",
        description="Access token for gated models such as DeepFloyd IF (accept the licence on the hub first); "
        "saved with the preferences and given to the download only",
        subtype="PASSWORD",
    )
    # The last results, kept so the panel still shows them after a restart.
    last_check: bpy.props.StringProperty(name="Last Check", description="The engine's last doctor report (JSON)")
    models: bpy.props.CollectionProperty(type=DreamFusionModelItem)
    model_problems: bpy.props.StringProperty(name="Model Problems", description="Folders that could not be read")

    def last_report(self) -> DoctorReport:
        """The stored doctor report; raises PayloadError (a ValueError, as bad JSON is) when it cannot be read."""
        return parse_doctor(json.loads(self.last_check))

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        self._draw_engine(layout.box(), context)
        self._draw_models(layout.box(), context)
        defaults = layout.box()
        defaults.label(text="New Runs", icon="SETTINGS")
        defaults.prop(self, "default_prior")
        defaults.prop(self, "default_model")
        defaults.prop(self, "device")

    def _draw_engine(self, box: bpy.types.UILayout, context: bpy.types.Context) -> None:
        box.label(text="Engine", icon="SCRIPT")
        box.prop(self, "engine_python")
        private = not self.engine_python.strip()
        row = box.row(align=True)
        row.enabled = not runtime.SETUP.busy()
        if private:
            state = env_state(default_env_dir(runtime.user_dir()))
            draw_wrapped(box, context, state.message, icon="CHECKMARK" if state.ready else "INFO")
            install_text = "Install Engine" if state.status == EnvStatus.MISSING else "Repair Engine"
            row.operator("dreamfusion.install_engine", text=install_text, icon="IMPORT")
            box.prop(self, "wheels_folder")
        row.operator("dreamfusion.check_engine", icon="CHECKMARK")
        job = runtime.SETUP.state()
        if job is not None:
            self._draw_job(box, context, job)
        if self.last_check:
            self._draw_check(box, context)

    def _draw_job(self, box: bpy.types.UILayout, context: bpy.types.Context, job: JobState) -> None:
        if not job.finished:
            row = box.row(align=True)
            row.progress(factor=job.fraction, type="BAR", text=job.message)
            row.operator("dreamfusion.cancel_engine_job", text="", icon="CANCEL")
        elif job.error:
            draw_wrapped(_alert_column(box), context, job.error, icon="ERROR")
        if runtime.SETUP.log_path() is not None:
            box.operator("dreamfusion.open_engine_log", icon="TEXT")

    def _draw_check(self, box: bpy.types.UILayout, context: bpy.types.Context) -> None:
        try:
            report = self.last_report()
        except ValueError as exc:
            sentence = f"The last check cannot be read ({exc}); click Check Engine."
            draw_wrapped(_alert_column(box), context, sentence, icon="ERROR")
            return
        column = box.column(align=True)
        for line in doctor_summary(report):
            draw_wrapped(column, context, line)
        if report.problems:
            alert = _alert_column(box)
            for problem in report.problems:
                draw_wrapped(alert, context, problem, icon="ERROR")
        if offers_device_fallback(report):
            row = box.row(align=True)
            row.label(text="Fall back to:")
            row.prop_enum(self, "device", "auto")
            row.prop_enum(self, "device", "cpu")

    def _draw_models(self, box: bpy.types.UILayout, context: bpy.types.Context) -> None:
        header = box.row()
        header.label(text="Models", icon="OUTLINER_DATA_LIGHTPROBE")
        refresh = header.row()
        refresh.enabled = not runtime.SETUP.busy()
        refresh.operator("dreamfusion.refresh_models", text="Refresh", icon="FILE_REFRESH")
        box.prop(self, "model_folders")
        if not self.models:
            box.label(text="Click Refresh to list the models on this machine.", icon="INFO")
        for item in self.models:
            self._draw_model(box, context, item)
        if self.model_problems:
            alert = _alert_column(box)
            for problem in self.model_problems.split("\n"):
                draw_wrapped(alert, context, problem, icon="ERROR")
        if any(item.gated and not item.complete for item in self.models):
            box.prop(self, "hf_token")
        if not bpy.app.online_access and any(item.downloadable and not item.complete for item in self.models):
            draw_wrapped(box, context, OFFLINE_SENTENCE, icon="INTERNET_OFFLINE")

    def _draw_model(self, box: bpy.types.UILayout, context: bpy.types.Context, item: DreamFusionModelItem) -> None:
        chosen = item.kind == self.default_prior and (
            item.model_id == self.default_model or (item.kind == "procedural" and not self.default_model)
        )
        row = box.row()
        row.label(text=item.name, icon=prior_icon(item.kind))
        buttons = row.row(align=True)
        buttons.enabled = not runtime.SETUP.busy()
        if item.complete:
            use = buttons.operator(
                "dreamfusion.use_model", text="In Use" if chosen else "Use", icon="RADIOBUT_ON" if chosen else "NONE"
            )
            use.model_id = item.model_id
            use.kind = item.kind
        elif item.downloadable:
            buttons.enabled = buttons.enabled and bpy.app.online_access
            buttons.operator("dreamfusion.download_model", text="Download", icon="IMPORT").model_id = item.model_id
        draw_wrapped(box.column(), context, item.status, icon="BLANK1")


def get(context: bpy.types.Context) -> DreamFusionPreferences:
    """This add-on's preferences, keyed by the package name Blender gave it."""
    return context.preferences.addons[__package__].preferences


def model_folder_paths(prefs: DreamFusionPreferences) -> list[Path]:
    """The user's model folders (';'-separated, Blender-relative paths resolved)."""
    return [Path(bpy.path.abspath(part.strip())) for part in prefs.model_folders.split(";") if part.strip()]


def engine_python_setting(prefs: DreamFusionPreferences) -> str:
    """The Engine Python preference with a Blender-relative ``//`` path resolved; "" when it is not set."""
    return bpy.path.abspath(prefs.engine_python.strip())


def engine_python(context: bpy.types.Context) -> Path:
    """The Python set in the preferences, else the private environment's, which may not exist yet;
    ``bridge.command_line.engine_python_path`` decides, this only reads the preference."""
    return engine_python_path(engine_python_setting(get(context)), runtime.user_dir())


def ready_engine_python(context: bpy.types.Context) -> Path:
    """``engine_python``, refused with a RequestError that says what to do when it cannot run a job yet."""
    return resolve_engine_python(engine_python_setting(get(context)), runtime.user_dir())


_CLASSES = (DreamFusionModelItem, DreamFusionPreferences)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
