"""The "Advanced" sub-panel: what most runs leave at its default."""

from __future__ import annotations

import bpy

from .. import runtime
from ..bridge.choices import is_learned
from ..bridge.presets import run_summary
from ..properties import chosen_prior, settings
from ..ui_text import draw_wrapped
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
        prior = chosen_prior(context, scene_settings)
        draw_wrapped(layout, context, run_summary(scene_settings.preset, prior), icon="INFO")
        layout.prop(scene_settings, "steps")
        layout.prop(scene_settings, "preview_every")
        layout.prop(scene_settings, "size")
        learned = layout.column(heading="Learned Priors")
        learned.active = is_learned(prior)
        learned.prop(scene_settings, "model")
        learned.prop(scene_settings, "perp_neg")
        learned.prop(scene_settings, "low_memory")


CLASSES = (DREAMFUSION_PT_advanced,)
