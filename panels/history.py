"""The "History" sub-panel: this file's runs with thumbnails; re-import, re-extract, open the folder."""

from __future__ import annotations

import bpy

from .. import runtime
from ..bridge.choices import prior_label
from ..bridge.run_state import RunStatus
from ..properties import DreamFusionRunItem, settings
from ..scene import thumbnails
from ..ui_text import draw_wrapped
from .main import DREAMFUSION_PT_main
from .sidebar import SidebarPanel

THUMBNAIL_SCALE = 6.0
STATUS_ICONS = {RunStatus.DONE: "CHECKMARK", RunStatus.CANCELLED: "PAUSE", RunStatus.FAILED: "ERROR"}


class DREAMFUSION_UL_history(bpy.types.UIList):
    def draw_item(
        self,
        context: bpy.types.Context,
        layout: bpy.types.UILayout,
        data: object,
        item: DreamFusionRunItem,
        icon: int,
        active_data: object,
        active_property: str,
        index: int = 0,
        flt_flag: int = 0,
    ) -> None:
        icon = thumbnails.icon_id(item.thumbnail)
        if item.status == RunStatus.DONE and icon:
            layout.label(text=item.prompt, icon_value=icon)
        else:
            layout.label(text=item.prompt, icon=STATUS_ICONS.get(item.status, "QUESTION"))


class DREAMFUSION_PT_history(SidebarPanel, bpy.types.Panel):
    bl_idname = "DREAMFUSION_PT_history"
    bl_label = "History"
    bl_parent_id = DREAMFUSION_PT_main.bl_idname

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        scene_settings = settings(context)
        if not scene_settings.history:
            layout.label(text="Runs of this file appear here")
            return
        layout.template_list(
            "DREAMFUSION_UL_history", "", scene_settings, "history", scene_settings, "history_index", rows=3
        )
        index = scene_settings.history_index
        if not 0 <= index < len(scene_settings.history):
            return
        item = scene_settings.history[index]
        icon = thumbnails.icon_id(item.thumbnail)
        if icon:
            layout.template_icon(icon_value=icon, scale=THUMBNAIL_SCALE)
        finished = item.status == RunStatus.DONE
        if finished:
            details = f"{prior_label(item.prior)}, {item.steps} steps, seed {item.seed}, {item.elapsed_s:.0f} s"
        else:
            details = f"{prior_label(item.prior)}, seed {item.seed}, stopped at step {item.steps}"
        draw_wrapped(layout, context, f"{item.created} · {details}")
        if not finished and item.message:
            box = layout.box()
            box.alert = item.status == RunStatus.FAILED
            draw_wrapped(box, context, item.message, icon=STATUS_ICONS.get(item.status, "QUESTION"))
        row = layout.row(align=True)
        imports = row.row(align=True)
        imports.enabled = finished
        imports.operator("dreamfusion.history_import", icon="IMPORT").index = index
        if not finished:
            resume = row.row(align=True)
            resume.enabled = not runtime.RUNS.busy()
            resume.operator("dreamfusion.history_resume", icon="PLAY").index = index
        row.operator("dreamfusion.history_open_folder", icon="FILE_FOLDER", text="").index = index
        row.operator("dreamfusion.history_remove", icon="X", text="").index = index
        if finished:
            column = layout.column(align=True)
            column.enabled = not runtime.RUNS.busy()
            column.prop(item, "threshold")
            remesh = column.operator("dreamfusion.remesh", icon="MOD_REMESH")
            remesh.index = index
            remesh.threshold = item.threshold


CLASSES = (DREAMFUSION_UL_history, DREAMFUSION_PT_history)
