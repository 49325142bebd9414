"""Add-on preferences: where the engine's Python is, where models live, defaults for new runs."""

from __future__ import annotations

import bpy


class DreamFusionPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    engine_python: bpy.props.StringProperty(
        name="Engine Python",
        description="Python with torch that runs the engine; empty: the private environment",
        subtype="FILE_PATH",
        default="",
    )
    model_folders: bpy.props.StringProperty(
        name="Model Folders",
        description="Extra folders with diffusers models, separated by ';' (the Hugging Face cache is always searched)",
        default="",
    )
    default_prior: bpy.props.EnumProperty(
        name="Default Prior",
        items=[
            ("procedural", "Procedural (offline)", "The built-in prior: no download, runs on any CPU"),
            ("stable-diffusion", "Stable Diffusion", "A local Stable Diffusion 1.x/2.x diffusers model"),
            ("deepfloyd-if", "DeepFloyd IF", "A local DeepFloyd IF stage I diffusers model"),
        ],
        default="procedural",
    )
    device: bpy.props.EnumProperty(
        name="Device",
        items=[
            ("auto", "Auto", "CUDA, then Apple MPS, then CPU"),
            ("cuda", "CUDA", "NVIDIA GPU"),
            ("mps", "MPS", "Apple silicon GPU"),
            ("cpu", "CPU", "Works everywhere, slowest"),
        ],
        default="auto",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "engine_python")
        layout.prop(self, "model_folders")
        layout.prop(self, "default_prior")
        layout.prop(self, "device")


def get(context: bpy.types.Context) -> DreamFusionPreferences:
    """This add-on's preferences, keyed by the package name Blender gave it."""
    return context.preferences.addons[__package__].preferences


def register() -> None:
    bpy.utils.register_class(DreamFusionPreferences)


def unregister() -> None:
    bpy.utils.unregister_class(DreamFusionPreferences)
