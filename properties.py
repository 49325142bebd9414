"""What the user sets for a run, the queue of prompts and the history of runs, all on the Scene (saved in
the .blend file).

The live state of a running engine is not here: it lives in ``runtime`` and is never saved or undone.
"""

from __future__ import annotations

from dataclasses import fields

import bpy

from .bridge.choices import guidance_defaults_text, prior_enum_items, prior_label
from .bridge.history import RunRecord
from .bridge.presets import QUALITY_PRESETS
from .bridge.prompt_queue import QueueEntry, QueueStatus

DEFAULT_PRIOR = "DEFAULT"  # "use the preferences' default prior"
FALLBACK_PRIOR = "procedural"  # what "Default" names while the preferences cannot be read
_prior_items: list[tuple[str, str, str, int]] = []  # Blender keeps no reference to a callback's strings


def preferences_prior(context: bpy.types.Context) -> str:
    """The preferences' default prior (read by name: the preferences module draws on this one)."""
    addon = context.preferences.addons.get(__package__)
    return addon.preferences.default_prior if addon is not None else FALLBACK_PRIOR


def prior_items(settings: bpy.types.PropertyGroup, context: bpy.types.Context | None) -> list:
    """ "Default: <the preferences' default prior>", then every prior; the numbers keep saved files' choices."""
    default = preferences_prior(context) if context is not None else FALLBACK_PRIOR
    _prior_items[:] = [
        (DEFAULT_PRIOR, f"Default: {prior_label(default)}", "The default prior from the add-on preferences", 0),
        *((*item, number) for number, item in enumerate(prior_enum_items(), start=1)),
    ]
    return _prior_items


_RECORD_PROPERTY = {"str": bpy.props.StringProperty, "int": bpy.props.IntProperty, "float": bpy.props.FloatProperty}


class DreamFusionRunItem(bpy.types.PropertyGroup):
    """One run (finished, or stopped with a checkpoint); one property per ``RunRecord`` field, plus the object it
    was imported as."""

    __annotations__ = {
        **{
            field.name: _RECORD_PROPERTY[str(field.type)](name=field.name.replace("_", " ").title())
            for field in fields(RunRecord)
        },
        "object": bpy.props.PointerProperty(
            name="Object", type=bpy.types.Object, description="The object this run was imported as"
        ),
    }


PANEL_SEED = -1  # a queue item's seed when it takes the panel's
PANEL_STEPS = 0  # a queue item's steps when it takes the panel's ("": the same for preset and prior)


class DreamFusionQueueItem(bpy.types.PropertyGroup):
    """One prompt of the queue, with what its line chose and what became of it."""

    uid: bpy.props.StringProperty(name="Id", description="Tells items apart while the queue runs")
    prompt: bpy.props.StringProperty(name="Prompt")
    status: bpy.props.EnumProperty(
        name="Status", items=[(status.value, status.value.title(), "") for status in QueueStatus], default="queued"
    )
    message: bpy.props.StringProperty(name="Message", description="How it ended: the time it took, or why not")
    run_dir: bpy.props.StringProperty(name="Run Folder", subtype="DIR_PATH")
    seed: bpy.props.IntProperty(name="Seed", min=PANEL_SEED, default=PANEL_SEED)
    preset: bpy.props.StringProperty(name="Quality")
    prior: bpy.props.StringProperty(name="Prior")
    steps: bpy.props.IntProperty(name="Steps", min=PANEL_STEPS, default=PANEL_STEPS)
    object: bpy.props.PointerProperty(name="Object", type=bpy.types.Object, description="The asset it became")

    def entry(self) -> QueueEntry:
        return QueueEntry(
            self.prompt,
            seed=None if self.seed == PANEL_SEED else self.seed,
            preset=self.preset or None,
            prior=self.prior or None,
            steps=None if self.steps == PANEL_STEPS else self.steps,
        )

    def set_entry(self, entry: QueueEntry) -> None:
        self.prompt = entry.prompt
        self.seed = PANEL_SEED if entry.seed is None else entry.seed
        self.preset, self.prior = entry.preset or "", entry.prior or ""
        self.steps = PANEL_STEPS if entry.steps is None else entry.steps


class DreamFusionSettings(bpy.types.PropertyGroup):
    prompt: bpy.props.StringProperty(
        name="Prompt", description="The object to make, for example 'a red cube' or 'a wooden chair'"
    )
    negative_prompt: bpy.props.StringProperty(
        name="Negative Prompt", description="What to keep out of it (learned priors only)"
    )
    prior: bpy.props.EnumProperty(name="Prior", items=prior_items, default=0)
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
        description=f"Classifier-free guidance scale; 0: the prior's own ({guidance_defaults_text()})",
        min=0.0,
        soft_max=200.0,
        default=0.0,
    )
    steps: bpy.props.IntProperty(
        name="Steps", description="Optimization steps; 0: the quality preset's", min=0, soft_max=20000, default=0
    )
    perp_neg: bpy.props.BoolProperty(
        name="Perp-Neg",
        description="Learned priors: push each view away from the other views' prompts (Perp-Neg), against "
        "objects with a face on every side; costs two more denoiser passes a step",
        default=False,
    )
    low_memory: bpy.props.BoolProperty(
        name="Low Memory",
        description="Learned priors: the same guidance in less GPU memory (the text encoder freed first, "
        "memory-efficient attention, one image at a time through the VAE); for 6-12 GB cards",
        default=False,
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
    queue: bpy.props.CollectionProperty(type=DreamFusionQueueItem)
    queue_index: bpy.props.IntProperty(name="Queued Prompt", default=0)


def settings(context: bpy.types.Context) -> DreamFusionSettings:
    return context.scene.dreamfusion


def chosen_prior(context: bpy.types.Context, scene_settings: DreamFusionSettings) -> str:
    """The prior a run of the panel uses: its own choice, or the preferences' default."""
    return preferences_prior(context) if scene_settings.prior == DEFAULT_PRIOR else scene_settings.prior


_CLASSES = (DreamFusionRunItem, DreamFusionQueueItem, DreamFusionSettings)


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
