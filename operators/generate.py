"""Generate: the panel's settings become an engine command line; the result is imported when it is done."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path

import bpy

from .. import preferences, runtime
from ..bridge.command_line import GenerateRequest, RequestError, generate_command
from ..bridge.engine_run import EngineRun
from ..bridge.history import RunRecord
from ..bridge.naming import new_run_dir, object_name
from ..bridge.prompt_queue import QueueEntry
from ..bridge.run_state import RunState
from ..bridge.worker import WorkerStartError
from ..properties import DEFAULT_PRIOR, DreamFusionSettings, settings
from ..scene.mesh_import import import_mesh_file
from .history import add_record


def runs_root() -> Path:
    return runtime.user_dir() / "runs"


def request_from_settings(
    scene_settings: DreamFusionSettings, prefs: bpy.types.AddonPreferences, entry: QueueEntry | None = None
) -> GenerateRequest:
    """The panel's settings with the preferences' defaults (prior, its model, device) filled in, for its own
    prompt or for a queue ``entry`` (its prompt and what it chose); raises RequestError."""
    entry = entry or QueueEntry(scene_settings.prompt)
    use_default = scene_settings.prior == DEFAULT_PRIOR
    panel = GenerateRequest(
        prompt=entry.prompt,
        out=new_run_dir(runs_root(), entry.prompt, datetime.now()),
        prior=prefs.default_prior if use_default else scene_settings.prior,
        negative_prompt=scene_settings.negative_prompt,
        model=scene_settings.model or (prefs.default_model if use_default else ""),
        preset=scene_settings.preset,
        steps=scene_settings.steps,
        seed=scene_settings.seed,
        guidance_scale=scene_settings.guidance_scale,
        device=prefs.device,
        preview_every=scene_settings.preview_every,
    )
    return entry.request(panel)


def import_result(request: GenerateRequest, context: bpy.types.Context, state: RunState) -> None:
    """Bring a finished run into the scene and the history, as one undo step."""
    record = RunRecord.from_run(request, state, datetime.now())
    obj = import_mesh_file(context, Path(record.mesh), object_name(request.prompt), settings(context).size)
    add_record(settings(context), record, obj)
    bpy.ops.ed.undo_push(message=f"DreamFusion: {obj.name}")


class DREAMFUSION_OT_generate(bpy.types.Operator):
    """Make a 3D object from the prompt; the engine runs in the background and the result is imported"""

    bl_idname = "dreamfusion.generate"
    bl_label = "Generate"
    bl_options = frozenset({"REGISTER"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        refusal = runtime.run_refusal()
        if refusal is not None:
            self.report({"ERROR"}, refusal)
            return {"CANCELLED"}
        try:
            request = request_from_settings(settings(context), preferences.get(context))
            command = generate_command(preferences.ready_engine_python(context), request)
            runtime.RUNS.start(EngineRun.of(command, request.out, "generate"), partial(import_result, request))
        except (RequestError, WorkerStartError) as exc:
            runtime.show_refused_run(str(exc), "generate")
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Generating '{request.prompt}'")
        return {"FINISHED"}


CLASSES = (DREAMFUSION_OT_generate,)
