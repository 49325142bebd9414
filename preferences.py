"""Add-on preferences: where the engine's Python is, where models live, defaults for new runs.

The panel is where an artist sets the engine up without a terminal: install or repair the private
environment, check it, see the models on this machine and pick one. Settings persist with Blender's
user preferences; the last check and model list are kept here too, so they survive a redraw or restart.
"""

from __future__ import annotations

import json
from pathlib import Path

import bpy

from .bridge import command_line, engine_env

_PRIOR_ICONS = {"procedural": "MESH_ICOSPHERE", "stable-diffusion": "IMAGE_DATA", "deepfloyd-if": "IMAGE_DATA"}


def _draw_wrapped(layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: str = "NONE") -> None:
    from .panels.main import draw_wrapped  # here, not at the top: the panels import the operators, which import us

    draw_wrapped(layout, context, text, icon)


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
        default="",
    )
    wheels_folder: bpy.props.StringProperty(
        name="Offline Wheels",
        description="Install the engine only from this folder of wheels (for studios without internet); "
        "empty: download from the package index",
        subtype="DIR_PATH",
        default="",
    )
    model_folders: bpy.props.StringProperty(
        name="Model Folders",
        description="Extra folders with diffusers models, separated by ';' (the Hugging Face cache is always searched)",
        default="",
    )
    default_prior: bpy.props.EnumProperty(
        name="Default Prior",
        items=[
            ("procedural", "Procedural (offline)", "The built-in prior: no download, runs on any CPU"),
            ("stable-diffusion", "Stable Diffusion", "A local Stable Diffusion 1.x/2.x diffusers model"),
            ("deepfloyd-if", "DeepFloyd IF", "A local DeepFloyd IF stage I diffusers model"),
        ],
        default="procedural",
    )
    default_model: bpy.props.StringProperty(
        name="Default Model",
        description="Hub id or folder of the model new runs of the default prior use; empty: the prior's default",
        default="",
    )
    device: bpy.props.EnumProperty(
        name="Device",
        items=[
            ("auto", "Auto", "CUDA, then Apple MPS, then CPU"),
            ("cuda", "CUDA", "NVIDIA GPU"),
            ("mps", "MPS", "Apple silicon GPU"),
            ("cpu", "CPU", "Works everywhere, slowest"),
        ],
        default="auto",
    )
    hf_token: bpy.props.StringProperty(
        name="Hugging Face Token",
        description="Access token for gated models such as DeepFloyd IF (accept the licence on the hub first); "
        "saved with the preferences and given to the download only",
        subtype="PASSWORD",
        default="",
    )
    # The last results, kept so the panel still shows them after a restart.
    last_check: bpy.props.StringProperty(name="Last Check", description="The engine's last doctor report (JSON)")
    models: bpy.props.CollectionProperty(type=DreamFusionModelItem)
    model_problems: bpy.props.StringProperty(name="Model Problems", description="Folders that could not be read")

    def draw(self, context: bpy.types.Context) -> None:
        from .operators import engine_setup  # here, not at the top: the operators import this module

        layout = self.layout
        self._draw_engine(layout.box(), context, engine_setup)
        self._draw_models(layout.box(), context, engine_setup)
        defaults = layout.box()
        defaults.label(text="New Runs", icon="SETTINGS")
        defaults.prop(self, "default_prior")
        defaults.prop(self, "default_model")
        defaults.prop(self, "device")

    def _draw_engine(self, box: bpy.types.UILayout, context: bpy.types.Context, engine_setup) -> None:
        box.label(text="Engine", icon="SCRIPT")
        box.prop(self, "engine_python")
        private = not self.engine_python.strip()
        busy = engine_setup.busy()
        row = box.row(align=True)
        row.enabled = not busy
        if private:
            state = engine_env.env_state(engine_env.default_env_dir(engine_setup.user_dir()))
            _draw_wrapped(box, context, state.message, icon="CHECKMARK" if state.ready else "INFO")
            install_text = "Install Engine" if state.status == engine_env.EnvStatus.MISSING else "Repair Engine"
            row.operator("dreamfusion.install_engine", text=install_text, icon="IMPORT")
            box.prop(self, "wheels_folder")
        row.operator("dreamfusion.check_engine", icon="CHECKMARK")
        job = engine_setup.job_state()
        if job is not None:
            self._draw_job(box, context, job, engine_setup)
        if self.last_check:
            self._draw_check(box, context)

    def _draw_job(self, box: bpy.types.UILayout, context: bpy.types.Context, job, engine_setup) -> None:
        if not job.finished:
            row = box.row(align=True)
            row.progress(factor=job.fraction, type="BAR", text=job.message)
            row.operator("dreamfusion.cancel_engine_job", text="", icon="CANCEL")
        elif job.error:
            alert = box.column()
            alert.alert = True
            _draw_wrapped(alert, context, job.error, icon="ERROR")
        if engine_setup.log_path() is not None:
            box.operator("dreamfusion.open_engine_log", icon="TEXT")

    def _draw_check(self, box: bpy.types.UILayout, context: bpy.types.Context) -> None:
        report = json.loads(self.last_check)
        column = box.column(align=True)
        for line in engine_env.doctor_summary(report):
            column.label(text=line)
        problems = report.get("problems") or []
        if problems:
            alert = box.column()
            alert.alert = True
            for problem in problems:
                _draw_wrapped(alert, context, problem, icon="ERROR")
        if report.get("device") is None and report.get("device_requested") not in (None, "auto"):
            row = box.row(align=True)
            row.label(text="Fall back to:")
            row.prop_enum(self, "device", "auto")
            row.prop_enum(self, "device", "cpu")

    def _draw_models(self, box: bpy.types.UILayout, context: bpy.types.Context, engine_setup) -> None:
        header = box.row()
        header.label(text="Models", icon="OUTLINER_DATA_LIGHTPROBE")
        refresh = header.row()
        refresh.enabled = not engine_setup.busy()
        refresh.operator("dreamfusion.refresh_models", text="Refresh", icon="FILE_REFRESH")
        box.prop(self, "model_folders")
        if not self.models:
            box.label(text="Click Refresh to list the models on this machine.", icon="INFO")
        for item in self.models:
            self._draw_model(box, context, item, engine_setup)
        if self.model_problems:
            alert = box.column()
            alert.alert = True
            for problem in self.model_problems.split("\n"):
                _draw_wrapped(alert, context, problem, icon="ERROR")
        if any(item.gated and not item.complete for item in self.models):
            box.prop(self, "hf_token")

    def _draw_model(self, box: bpy.types.UILayout, context: bpy.types.Context, item, engine_setup) -> None:
        chosen = item.kind == self.default_prior and (
            item.model_id == self.default_model or (item.kind == "procedural" and not self.default_model)
        )
        row = box.row()
        row.label(text=item.name, icon=_PRIOR_ICONS.get(item.kind, "QUESTION"))
        buttons = row.row(align=True)
        buttons.enabled = not engine_setup.busy()
        if item.complete:
            use = buttons.operator(
                "dreamfusion.use_model", text="In Use" if chosen else "Use", icon="RADIOBUT_ON" if chosen else "NONE"
            )
            use.model_id = item.model_id
            use.kind = item.kind
        elif item.downloadable:
            buttons.enabled = buttons.enabled and bpy.app.online_access
            buttons.operator("dreamfusion.download_model", text="Download", icon="IMPORT").model_id = item.model_id
        _draw_wrapped(box.column(), context, item.status, icon="BLANK1")


def get(context: bpy.types.Context) -> DreamFusionPreferences:
    """This add-on's preferences, keyed by the package name Blender gave it."""
    return context.preferences.addons[__package__].preferences


def model_folder_paths(prefs: DreamFusionPreferences) -> list[Path]:
    """The user's model folders (';'-separated, Blender-relative paths resolved)."""
    return [Path(bpy.path.abspath(part.strip())) for part in prefs.model_folders.split(";") if part.strip()]


def engine_python_setting(prefs: DreamFusionPreferences) -> str:
    """The Engine Python preference with a Blender-relative ``//`` path resolved; "" when it is not set."""
    return bpy.path.abspath(prefs.engine_python.strip())


def engine_python_path(prefs: DreamFusionPreferences, user_dir: Path) -> Path:
    """The Python set in the preferences, else the private environment's (which may not exist yet);
    ``bridge.command_line.engine_python_path`` decides, this only reads the preference."""
    return command_line.engine_python_path(engine_python_setting(prefs), user_dir)


_CLASSES = (DreamFusionModelItem, DreamFusionPreferences)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
