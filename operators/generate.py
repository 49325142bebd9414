"""Generate: the panel's settings become an engine command line; the result is imported when it is done. A run
that stops with a checkpoint stays in the history, where Resume continues it."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path

import bpy

from .. import preferences, runtime
from ..bridge.choices import is_learned
from ..bridge.command_line import GenerateRequest, RequestError, generate_command, resume_command
from ..bridge.engine_run import EngineRun
from ..bridge.history import RunRecord, discard_empty_run, request_of
from ..bridge.naming import new_run_dir, object_name
from ..bridge.prompt_queue import QueueEntry, can_resume
from ..bridge.run_state import RunState
from ..properties import DEFAULT_PRIOR, DreamFusionSettings, settings
from ..scene.mesh_import import import_mesh_file
from .history import HistoryItemOperator, add_record, record_of


def runs_root() -> Path:
    return runtime.user_dir() / "runs"


def request_from_settings(
    scene_settings: DreamFusionSettings, prefs: bpy.types.AddonPreferences, entry: QueueEntry | None = None
) -> GenerateRequest:
    """The panel's settings with the preferences' defaults (prior, its model, device) filled in, for its own
    prompt or for a queue ``entry`` (its prompt and what it chose); raises RequestError."""
    entry = entry or QueueEntry(scene_settings.prompt)
    use_default = scene_settings.prior == DEFAULT_PRIOR
    prior = prefs.default_prior if use_default else scene_settings.prior
    learned = is_learned(entry.prior or prior)  # Perp-Neg and low memory mean something to learned priors only
    panel = GenerateRequest(
        prompt=entry.prompt,
        out=new_run_dir(runs_root(), entry.prompt, datetime.now()),
        prior=prior,
        negative_prompt=scene_settings.negative_prompt,
        model=scene_settings.model or (prefs.default_model if use_default else ""),
        preset=scene_settings.preset,
        steps=scene_settings.steps,
        seed=scene_settings.seed,
        guidance_scale=scene_settings.guidance_scale,
        device=prefs.device,
        preview_every=scene_settings.preview_every,
        perp_neg=scene_settings.perp_neg and learned,
        low_memory=scene_settings.low_memory and learned,
    )
    return entry.request(panel)


def import_result(request: GenerateRequest, context: bpy.types.Context, state: RunState) -> None:
    """Bring a finished run into the scene and the history, as one undo step."""
    record = RunRecord.from_run(request, state, datetime.now())
    obj = import_mesh_file(context, Path(record.mesh), object_name(request.prompt), settings(context).size)
    add_record(settings(context), record, obj)
    bpy.ops.ed.undo_push(message=f"DreamFusion: {obj.name}")


def keep_stopped_run(request: GenerateRequest, context: bpy.types.Context, state: RunState) -> None:
    """After every end: a cancelled or failed run with a checkpoint stays in the history (Resume continues it);
    the folder of a run the engine refused before writing anything goes (its sentence says why)."""
    if state.succeeded:
        return
    record = RunRecord.from_stopped(request, state, datetime.now())
    if record is not None:
        add_record(settings(context), record, None)
    else:
        discard_empty_run(request.out)


def start_run(request: GenerateRequest, command: list[str]) -> None:
    """Run ``command`` for ``request`` in the run slot; raises WorkerStartError when it cannot start."""
    job = EngineRun.of(command, request.out, "generate")
    runtime.RUNS.start(job, partial(import_result, request), partial(keep_stopped_run, request))


class DREAMFUSION_OT_generate(bpy.types.Operator):
    """Make a 3D object from the prompt; the engine runs in the background and the result is imported"""

    bl_idname = "dreamfusion.generate"
    bl_label = "Generate"
    bl_options = frozenset({"REGISTER"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        def start() -> None:
            request = request_from_settings(settings(context), preferences.get(context))
            start_run(request, generate_command(preferences.ready_engine_python(context), request))
            self.report({"INFO"}, f"Generating '{request.prompt}'")

        return {"FINISHED"} if runtime.start_or_report(self, "generate", start) else {"CANCELLED"}


class DREAMFUSION_OT_history_resume(HistoryItemOperator, bpy.types.Operator):
    """Continue this stopped run from its checkpoint, with the settings it was started with"""

    bl_idname = "dreamfusion.history_resume"
    bl_label = "Resume"
    bl_options = frozenset({"REGISTER"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        item = self.item_or_report(context)
        if item is None:
            return {"CANCELLED"}

        def start() -> None:
            if not can_resume(item.run_dir):
                raise RequestError(f"The run folder {item.run_dir} holds no checkpoint to resume from.")
            request = request_of(record_of(item))
            low_memory = settings(context).low_memory and is_learned(request.prior)
            start_run(request, resume_command(preferences.ready_engine_python(context), request.out, low_memory))
            self.report({"INFO"}, f"Resuming '{item.prompt}'")

        return {"FINISHED"} if runtime.start_or_report(self, "generate", start) else {"CANCELLED"}


CLASSES = (DREAMFUSION_OT_generate, DREAMFUSION_OT_history_resume)
