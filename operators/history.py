"""The runs of this file: add or update a record, re-import it, open its folder, forget it (Resume, which starts
an engine run, is with Generate)."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import bpy

from ..bridge.history import RunRecord
from ..bridge.naming import object_name
from ..engine.mesh.file_format import MeshFileError
from ..properties import DreamFusionRunItem, DreamFusionSettings, settings
from ..scene.mesh_import import import_mesh_file


def add_record(
    scene_settings: DreamFusionSettings, record: RunRecord, obj: bpy.types.Object | None
) -> DreamFusionRunItem:
    """Put ``record`` into a scene's history and select it: in place of the record of the same run folder (a
    resumed run), else appended (newest last). ``obj``: the object it was imported as, None for a stopped run."""
    history = scene_settings.history
    index = next((i for i, item in enumerate(history) if item.run_dir == record.run_dir), None)
    if index is None:
        history.add()
        index = len(history) - 1
    item = history[index]
    for key, value in asdict(record).items():
        setattr(item, key, value)
    if obj is not None:
        item.object = obj
    scene_settings.history_index = index
    return item


def record_of(item: DreamFusionRunItem) -> RunRecord:
    """The ``RunRecord`` a history item stores."""
    return RunRecord(**{field.name: getattr(item, field.name) for field in fields(RunRecord)})


def history_item(context: bpy.types.Context, index: int) -> DreamFusionRunItem | None:
    history = settings(context).history
    return history[index] if 0 <= index < len(history) else None


def find_record(context: bpy.types.Context, run_dir: str) -> DreamFusionRunItem | None:
    return next((item for item in settings(context).history if item.run_dir == run_dir), None)


def linked_object(context: bpy.types.Context, item: DreamFusionRunItem) -> bpy.types.Object | None:
    """The record's object if it is still in this scene (a deleted object may linger unlinked)."""
    obj = item.object
    return obj if obj is not None and context.scene.objects.get(obj.name) == obj else None


class HistoryItemOperator:
    index: bpy.props.IntProperty(name="Index", description="Position in the run history", min=0)

    def item_or_report(self, context: bpy.types.Context) -> DreamFusionRunItem | None:
        item = history_item(context, self.index)
        if item is None:
            self.report({"ERROR"}, f"There is no run number {self.index + 1} in this file's history")
        return item


class DREAMFUSION_OT_history_import(HistoryItemOperator, bpy.types.Operator):
    """Import this run's mesh again as a new object"""

    bl_idname = "dreamfusion.history_import"
    bl_label = "Import"
    bl_options = frozenset({"REGISTER", "UNDO"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        item = self.item_or_report(context)
        if item is None:
            return {"CANCELLED"}
        if not item.mesh:
            self.report({"ERROR"}, f"The run '{item.prompt}' stopped before it made a mesh: resume it first")
            return {"CANCELLED"}
        try:
            item.object = import_mesh_file(context, Path(item.mesh), object_name(item.prompt), settings(context).size)
        except MeshFileError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class DREAMFUSION_OT_history_open_folder(HistoryItemOperator, bpy.types.Operator):
    """Open this run's folder (previews, turntable, mesh files, logs) in the file manager"""

    bl_idname = "dreamfusion.history_open_folder"
    bl_label = "Open Folder"
    bl_options = frozenset({"REGISTER"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        item = self.item_or_report(context)
        if item is None:
            return {"CANCELLED"}
        if not Path(item.run_dir).is_dir():
            self.report({"ERROR"}, f"The run folder {item.run_dir} no longer exists")
            return {"CANCELLED"}
        bpy.ops.wm.path_open(filepath=item.run_dir)
        return {"FINISHED"}


class DREAMFUSION_OT_history_remove(HistoryItemOperator, bpy.types.Operator):
    """Remove this run from the list (its folder and objects stay)"""

    bl_idname = "dreamfusion.history_remove"
    bl_label = "Remove from History"
    bl_options = frozenset({"REGISTER", "UNDO"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.item_or_report(context) is None:
            return {"CANCELLED"}
        scene_settings = settings(context)
        scene_settings.history.remove(self.index)
        scene_settings.history_index = min(scene_settings.history_index, max(len(scene_settings.history) - 1, 0))
        return {"FINISHED"}


CLASSES = (DREAMFUSION_OT_history_import, DREAMFUSION_OT_history_open_folder, DREAMFUSION_OT_history_remove)
