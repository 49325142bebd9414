"""Re-extract a run's mesh at another density threshold with the engine, replacing the object's mesh."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import bpy

from .. import preferences, runtime
from ..bridge.command_line import RequestError, remesh_command
from ..bridge.engine_run import EngineRun
from ..bridge.naming import object_name
from ..bridge.run_state import RunState
from ..properties import settings
from ..scene.mesh_import import import_mesh_file, replace_mesh
from .history import HistoryItemOperator, find_record, linked_object


def replace_result(run_dir: str, context: bpy.types.Context, state: RunState) -> None:
    """Put the new mesh into the run's object (or a new object if it is gone), as one undo step."""
    assert state.result is not None
    mesh_path = Path(state.result["mesh"])
    item = find_record(context, run_dir)
    obj = linked_object(context, item) if item is not None else None
    if obj is not None:
        replace_mesh(obj, mesh_path)
    else:
        name = object_name(item.prompt if item is not None else Path(run_dir).name)
        obj = import_mesh_file(context, mesh_path, name, settings(context).size)
    if item is not None:
        item.object = obj
        item.mesh = str(mesh_path)
        item.threshold = float(state.result.get("threshold") or item.threshold)
    bpy.ops.ed.undo_push(message=f"DreamFusion: re-extract {obj.name}")


class DREAMFUSION_OT_remesh(HistoryItemOperator, bpy.types.Operator):
    """Extract the run's mesh again at this density threshold (lower: bigger, higher: thinner)"""

    bl_idname = "dreamfusion.remesh"
    bl_label = "Re-extract"
    bl_options = frozenset({"REGISTER"})

    threshold: bpy.props.FloatProperty(
        name="Threshold",
        description="Density iso-level; 0: the run's current threshold (or automatic if it has none)",
        min=0.0,
        default=0.0,
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        item = self.item_or_report(context)
        if item is None:
            return {"CANCELLED"}
        threshold = self.threshold or item.threshold or None
        run_dir = Path(item.run_dir)

        def start() -> None:
            if not run_dir.is_dir():
                raise RequestError(f"The run folder {run_dir} no longer exists, so its mesh cannot be re-extracted.")
            command = remesh_command(preferences.ready_engine_python(context), run_dir, threshold)
            runtime.RUNS.start(EngineRun.of(command, run_dir, "remesh"), partial(replace_result, item.run_dir))

        return {"FINISHED"} if runtime.start_or_report(self, "remesh", start) else {"CANCELLED"}


CLASSES = (DREAMFUSION_OT_remesh,)
