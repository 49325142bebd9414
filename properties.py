"""What the user sets for a run and the history of runs, both on the Scene (saved in the .blend file).

The live state of a running engine is not here: it lives in ``runtime`` and is never saved or undone.
"""

from __future__ import annotations

from dataclasses import fields

import bpy

from .bridge.choices import PRIORS
from .bridge.history import RunRecord
from .bridge.presets import QUALITY_PRESETS

DEFAULT_PRIOR = "DEFAULT"  # "use the preferences' default prior"
PRIOR_ITEMS = [
    (DEFAULT_PRIOR, "Default", "The default prior from the add-on preferences"),
    *(prior.enum_item() for prior in PRIORS),
]


_RECORD_PROPERTY = {"str": bpy.props.StringProperty, "int": bpy.props.IntProperty, "float": bpy.props.FloatProperty}


class DreamFusionRunItem(bpy.types.PropertyGroup):
    """One finished run; one property per ``RunRecord`` field, plus the object it was imported as."""

    __annotations__ = {
        **{
            field.name: _RECORD_PROPERTY[str(field.type)](name=field.name.replace("_", " ").title())
            for field in fields(RunRecord)
        },
        "object": bpy.props.PointerProperty(
            name="Object", type=bpy.types.Object, description="The object this run was imported as"
        ),
    }


class DreamFusionSettings(bpy.types.PropertyGroup):
    prompt: bpy.props.StringProperty(
        name="Prompt", description="The object to make, for example 'a red cube' or 'a wooden chair'"
    )
    negative_prompt: bpy.props.StringProperty(
        name="Negative Prompt", description="What to keep out of it (learned priors only)"
    )
    prior: bpy.props.EnumProperty(name="Prior", items=PRIOR_ITEMS, default=DEFAULT_PRIOR)
    model: bpy.props.StringProperty(
        name="Model", description="Model folder or id for a learned prior; empty: the prior's default"
    )
    preset: bpy.props.EnumProperty(
        name="Quality",
        items=[(preset.key, preset.label, preset.description) for preset in QUALITY_PRESETS],
        default="balanced",
    )
    seed: bpy.props.IntProperty(name="Seed", description="Same seed, same result", min=0, default=0)
    guidance_scale: bpy.props.FloatProperty(
        name="Guidance",
        description="Classifier-free guidance scale; 0: the prior's default (100 for learned priors)",
        min=0.0,
        soft_max=200.0,
        default=0.0,
    )
    steps: bpy.props.IntProperty(
        name="Steps", description="Optimization steps; 0: the quality preset's", min=0, soft_max=20000, default=0
    )
    preview_every: bpy.props.IntProperty(
        name="Preview Every", description="Steps between preview images; 0: the engine's default", min=0, default=0
    )
    size: bpy.props.FloatProperty(
        name="Size",
        description="Largest side of the imported object",
        subtype="DISTANCE",
        unit="LENGTH",
        min=0.001,
        soft_max=100.0,
        default=1.0,
    )
    history: bpy.props.CollectionProperty(type=DreamFusionRunItem)
    history_index: bpy.props.IntProperty(name="Run", default=0)


def settings(context: bpy.types.Context) -> DreamFusionSettings:
    return context.scene.dreamfusion


_CLASSES = (DreamFusionRunItem, DreamFusionSettings)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.dreamfusion = bpy.props.PointerProperty(type=DreamFusionSettings)
    bpy.types.WindowManager.dreamfusion_show_log = bpy.props.BoolProperty(
        name="Show Log", description="Show the last lines the engine printed"
    )


def unregister() -> None:
    del bpy.types.WindowManager.dreamfusion_show_log
    del bpy.types.Scene.dreamfusion
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
