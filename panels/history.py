"""The "History" sub-panel: this file's runs with thumbnails; re-import, re-extract, open the folder."""

from __future__ import annotations

import bpy

from .. import runtime
from ..properties import DreamFusionRunItem, settings
from ..scene import thumbnails
from .main import DREAMFUSION_PT_main
from .sidebar import SidebarPanel

THUMBNAIL_SCALE = 6.0


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
        row = layout.row(align=True)
        row.label(text=item.prompt, icon_value=thumbnails.icon_id(item.thumbnail) or 0)
        row.label(text=item.created)


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
        details = layout.column(align=True)
        details.label(text=f"{item.prior}, {item.steps} steps, seed {item.seed}, {item.elapsed_s:.0f} s")
        row = layout.row(align=True)
        row.operator("dreamfusion.history_import", icon="IMPORT").index = index
        row.operator("dreamfusion.history_open_folder", icon="FILE_FOLDER").index = index
        row.operator("dreamfusion.history_remove", icon="X", text="").index = index
        row = layout.row(align=True)
        row.enabled = not runtime.RUNS.busy()
        row.prop(item, "threshold")
        remesh = row.operator("dreamfusion.remesh", icon="MOD_REMESH")
        remesh.index = index
        remesh.threshold = item.threshold


CLASSES = (DREAMFUSION_UL_history, DREAMFUSION_PT_history)
