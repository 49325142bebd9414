"""The "Queue" sub-panel: prompts to run one after another, the status of each, and batch folder import."""

from __future__ import annotations

import bpy

from .. import runtime
from ..bridge.prompt_queue import QueueStatus, shown_status
from ..properties import DreamFusionQueueItem, DreamFusionSettings, settings
from ..ui_text import draw_wrapped
from .main import DREAMFUSION_PT_main
from .sidebar import SidebarPanel

STATUS_ICONS = {
    QueueStatus.QUEUED: "TIME",
    QueueStatus.RUNNING: "PLAY",
    QueueStatus.DONE: "CHECKMARK",
    QueueStatus.FAILED: "ERROR",
    QueueStatus.CANCELLED: "PAUSE",
}


def item_status(scene: bpy.types.Scene, item: DreamFusionQueueItem) -> QueueStatus:
    return shown_status(item.status, runtime.QUEUE.is_running(scene.name, item.uid))


class DREAMFUSION_UL_queue(bpy.types.UIList):
    def draw_item(
        self,
        context: bpy.types.Context,
        layout: bpy.types.UILayout,
        data: object,
        item: DreamFusionQueueItem,
        icon: int,
        active_data: object,
        active_property: str,
        index: int = 0,
        flt_flag: int = 0,
    ) -> None:  # the signature Blender requires of a UIList (it counts the arguments)
        layout.label(text=item.prompt, icon=STATUS_ICONS[item_status(context.scene, item)])


def draw_queue(layout: bpy.types.UILayout, context: bpy.types.Context, scene_settings: DreamFusionSettings) -> None:
    scene, queue = context.scene, scene_settings.queue
    layout.template_list("DREAMFUSION_UL_queue", "", scene_settings, "queue", scene_settings, "queue_index", rows=4)
    statuses = [item_status(scene, item) for item in queue]
    counts = ", ".join(f"{statuses.count(s)} {s.value}" for s in QueueStatus if statuses.count(s))
    draw_wrapped(layout, context, counts)
    index = scene_settings.queue_index
    if 0 <= index < len(queue):
        item, status = queue[index], statuses[index]
        draw_wrapped(layout, context, f"{status.value.title()}: {item.prompt}", icon=STATUS_ICONS[status])
        details = item.entry().summary()
        if details:
            draw_wrapped(layout, context, f"Own settings: {details}", icon="BLANK1")
        if item.message:
            box = layout.box()
            box.alert = status is QueueStatus.FAILED
            draw_wrapped(box, context, item.message, icon=STATUS_ICONS[status])
        row = layout.row(align=True)
        retry = row.row(align=True)
        retry.enabled = status is QueueStatus.FAILED  # only a failed prompt can be queued again
        retry.operator("dreamfusion.queue_retry", icon="FILE_REFRESH").index = index
        row.operator("dreamfusion.queue_clear_done", icon="TRASH")
        row.operator("dreamfusion.queue_remove", icon="X", text="").index = index
    row = layout.row()
    row.scale_y = 1.5
    if runtime.RUNS.busy():
        row.operator("dreamfusion.cancel", icon="CANCEL")
    else:
        row.operator("dreamfusion.queue_run", icon="PLAY")


class DREAMFUSION_PT_queue(SidebarPanel, bpy.types.Panel):
    bl_idname = "DREAMFUSION_PT_queue"
    bl_label = "Queue"
    bl_parent_id = DREAMFUSION_PT_main.bl_idname

    def draw(self, context: bpy.types.Context) -> None:
        layout, scene_settings = self.layout, settings(context)
        column = layout.column(align=True)
        column.operator("dreamfusion.queue_add", icon="ADD", text="Add Prompt")
        row = column.row(align=True)
        row.operator("dreamfusion.queue_paste", icon="PASTEDOWN", text="Paste")
        row.operator("dreamfusion.queue_load", icon="FILE_TEXT", text="Load")
        queue = scene_settings.queue
        if not queue:
            draw_wrapped(layout, context, "Queue prompts here to run them one after another; each becomes an asset.")
        else:
            draw_queue(layout, context, scene_settings)
        layout.operator("dreamfusion.import_batch", icon="ASSET_MANAGER", text="Import Batch Folder")


CLASSES = (DREAMFUSION_UL_queue, DREAMFUSION_PT_queue)
