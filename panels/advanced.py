"""The "Advanced" sub-panel: what most runs leave at its default."""

from __future__ import annotations

import bpy

from .. import runtime
from ..bridge.presets import quality_preset
from ..properties import settings
from .main import DREAMFUSION_PT_main
from .sidebar import SidebarPanel


class DREAMFUSION_PT_advanced(SidebarPanel, bpy.types.Panel):
    bl_idname = "DREAMFUSION_PT_advanced"
    bl_label = "Advanced"
    bl_parent_id = DREAMFUSION_PT_main.bl_idname
    bl_options = frozenset({"DEFAULT_CLOSED"})

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.enabled = not runtime.RUNS.busy()
        scene_settings = settings(context)
        preset = quality_preset(scene_settings.preset)
        layout.label(text=f"{preset.label}: {preset.description}", icon="INFO")
        layout.prop(scene_settings, "steps")
        layout.prop(scene_settings, "preview_every")
        layout.prop(scene_settings, "model")
        layout.prop(scene_settings, "size")


CLASSES = (DREAMFUSION_PT_advanced,)
