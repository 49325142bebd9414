"""Import a batch folder made by ``engine batch`` (here, or on a cluster) in one step: every finished prompt
becomes an asset in the "DreamFusion" collection and a run in the history (also File > Import).

Importing the same folder again brings in only what is new (a cluster batch still running, imported
again later); a prompt whose files cannot be read is named and the others still come in.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import bpy
from bpy_extras.io_utils import ImportHelper

from ..bridge.batch_folder import read_batch_folder
from ..bridge.command_line import RequestError
from ..bridge.naming import object_name
from ..engine.batch.ledger import LEDGER_FILE
from ..engine.mesh.file_format import MeshFileError
from ..properties import settings
from ..scene.assets import add_asset
from .history import add_record, find_record, linked_object


class DREAMFUSION_OT_import_batch(bpy.types.Operator, ImportHelper):
    """Import every finished prompt of a batch folder (its batch.jsonl) as assets, with their previews"""

    bl_idname = "dreamfusion.import_batch"
    bl_label = "Import Batch Folder"
    bl_options = frozenset({"REGISTER", "UNDO"})

    filename_ext = ".jsonl"
    filter_glob: bpy.props.StringProperty(default=LEDGER_FILE, options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            batch = read_batch_folder(Path(self.filepath))
        except RequestError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        scene_settings = settings(context)
        imported, present, problems = 0, 0, []
        for prompt in batch.done():
            try:
                record = batch.run_record(prompt, datetime.now())
                earlier = find_record(context, record.run_dir)
                if earlier is not None and linked_object(context, earlier) is not None:
                    present += 1
                    continue
                thumbnail = Path(record.thumbnail) if record.thumbnail else None
                name, tags = object_name(record.prompt), (record.prior,)
                obj = add_asset(
                    context.scene, Path(record.mesh), name, scene_settings.size, thumbnail, record.prompt, tags
                )
            except (MeshFileError, RuntimeError, ValueError) as exc:
                problems.append(f"prompt {prompt.index + 1} ({prompt.prompt!r}): {exc}")
                continue
            add_record(scene_settings, record, obj)
            imported += 1
        summary = f"Imported {imported} assets from {batch.path.name} ({batch.summary()}"
        summary += f"; {present} already here)" if present else ")"
        if problems:
            self.report({"WARNING"}, summary + ". Not imported: " + "; ".join(problems))
        else:
            self.report({"INFO"}, summary)
        return {"FINISHED"} if imported or present else {"CANCELLED"}


def menu_import(self: bpy.types.Menu, context: bpy.types.Context) -> None:
    self.layout.operator(DREAMFUSION_OT_import_batch.bl_idname, text="DreamFusion Batch (batch.jsonl)")


CLASSES = (DREAMFUSION_OT_import_batch,)


def register() -> None:
    bpy.types.TOPBAR_MT_file_import.append(menu_import)


def unregister() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
