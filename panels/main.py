"""The sidebar tab "DreamFusion": prompt and settings, Generate/Cancel, progress, live preview, errors."""

from __future__ import annotations

import textwrap

import bpy

from ..bridge.run_state import RunState, RunStatus
from ..operators import run_manager
from ..properties import settings
from ..scene import thumbnails
from ..scene.preview_image import PREVIEW_IMAGE_NAME

PREVIEW_ICON_SCALE = 8.0
CHARS_PER_PIXEL = 1 / 7.0  # rough width of one UI character, for wrapping messages


def draw_wrapped(layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: str = "NONE") -> None:
    """Labels do not wrap: split ``text`` into lines that fit the sidebar."""
    width = max(20, int((context.region.width if context.region else 300) * CHARS_PER_PIXEL))
    column = layout.column(align=True)
    for number, line in enumerate(textwrap.wrap(text, width) or [""]):
        column.label(text=line, icon=icon if number == 0 else "BLANK1" if icon != "NONE" else "NONE")


def draw_run_state(layout: bpy.types.UILayout, context: bpy.types.Context, state: RunState) -> None:
    if not state.finished:
        layout.progress(factor=state.progress, type="BAR", text=state.progress_label())
        if state.status is RunStatus.STOPPING:
            layout.label(text=state.message, icon="PAUSE")
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
        layout.label(text=state.message, icon="CHECKMARK" if state.status is RunStatus.DONE else "INFO")


class DREAMFUSION_PT_main(bpy.types.Panel):
    bl_idname = "DREAMFUSION_PT_main"
    bl_label = "DreamFusion"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "DreamFusion"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        scene_settings = settings(context)
        running = run_manager.busy()

        column = layout.column()
        column.enabled = not running
        column.label(text="Prompt")
        column.prop(scene_settings, "prompt", text="")
        column.label(text="Negative Prompt")
        column.prop(scene_settings, "negative_prompt", text="")
        column.prop(scene_settings, "prior")
        column.row().prop(scene_settings, "preset", expand=True)
        row = column.row(align=True)
        row.prop(scene_settings, "seed")
        row.prop(scene_settings, "guidance_scale")

        row = layout.row()
        row.scale_y = 1.5
        if running:
            row.operator("dreamfusion.cancel", icon="CANCEL")
        else:
            row.operator("dreamfusion.generate", icon="PLAY")

        state = run_manager.state()
        if state is not None:
            draw_run_state(layout, context, state)
        if state is not None and state.preview_path:
            layout.template_icon(icon_value=thumbnails.icon_id(state.preview_path), scale=PREVIEW_ICON_SCALE)
            caption = f"Preview at step {state.preview_step} (full size: image '{PREVIEW_IMAGE_NAME}')"
            draw_wrapped(layout, context, caption)


CLASSES = (DREAMFUSION_PT_main,)
