"""The sidebar tab "DreamFusion": prompt and settings, Generate/Cancel, progress, live preview, errors."""

from __future__ import annotations

import bpy

from .. import runtime
from ..bridge.run_state import RunState, RunStatus
from ..properties import settings
from ..scene import thumbnails
from ..scene.preview_image import PREVIEW_IMAGE_NAME
from ..ui_text import draw_wrapped
from .sidebar import SidebarPanel

PREVIEW_ICON_SCALE = 8.0


def draw_run_state(layout: bpy.types.UILayout, context: bpy.types.Context, state: RunState) -> None:
    if state.warning:
        draw_wrapped(layout.box(), context, state.warning, icon="ERROR")
    if not state.finished:
        layout.progress(factor=state.progress, type="BAR", text=state.progress_label())
        if skipped := state.skipped_text():
            draw_wrapped(layout, context, skipped, icon="INFO")
        if state.status is RunStatus.STOPPING:
            draw_wrapped(layout, context, state.message, icon="PAUSE")
        return
    if state.status is RunStatus.FAILED:
        box = layout.box()
        box.alert = True
        draw_wrapped(box, context, state.error, icon="ERROR")
        if state.log_tail:
            window_manager = context.window_manager
            box.prop(window_manager, "dreamfusion_show_log", toggle=True)
            if window_manager.dreamfusion_show_log:
                log = box.column(align=True)
                for line in state.log_tail:
                    log.label(text=line)
    else:
        draw_wrapped(layout, context, state.message, icon="CHECKMARK" if state.status is RunStatus.DONE else "PAUSE")
        if skipped := state.skipped_text():
            draw_wrapped(layout, context, skipped, icon="INFO")
        if state.status is RunStatus.CANCELLED and state.cancelled_at_step is not None:
            draw_wrapped(layout, context, "Resume it from the History panel.", icon="BLANK1")


class DREAMFUSION_PT_main(SidebarPanel, bpy.types.Panel):
    bl_idname = "DREAMFUSION_PT_main"
    bl_label = "DreamFusion"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        scene_settings = settings(context)
        running = runtime.RUNS.busy()

        column = layout.column()
        column.enabled = not running
        column.label(text="Prompt")
        column.prop(scene_settings, "prompt", text="")
        column.label(text="Negative Prompt")
        column.prop(scene_settings, "negative_prompt", text="")
        column.label(text="Prior")
        column.prop(scene_settings, "prior", text="")
        column.row().prop(scene_settings, "preset", expand=True)
        numbers = column.column(align=True)
        numbers.prop(scene_settings, "seed")
        numbers.prop(scene_settings, "guidance_scale")

        row = layout.row()
        row.scale_y = 1.5
        if running:
            row.operator("dreamfusion.cancel", icon="CANCEL")
        else:
            row.operator("dreamfusion.generate", icon="PLAY")

        state = runtime.RUNS.state()
        if state is not None:
            draw_run_state(layout, context, state)
        if state is not None and state.preview_path:
            layout.template_icon(icon_value=thumbnails.icon_id(state.preview_path), scale=PREVIEW_ICON_SCALE)
            caption = f"Preview at step {state.preview_step} (full size: image '{PREVIEW_IMAGE_NAME}')"
            draw_wrapped(layout, context, caption)


CLASSES = (DREAMFUSION_PT_main,)
