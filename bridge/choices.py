"""The choices the add-on offers, one list each: the priors and the devices (no bpy).

The preferences (default prior, device) and the scene settings (prior, with "Default" first) build
their menus from these lists, so a new prior is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    """One menu entry: what the engine is given, what a person reads, the tooltip, and an icon."""

    key: str
    label: str
    description: str
    icon: str = "NONE"

    def enum_item(self) -> tuple[str, str, str]:
        """The ``(identifier, name, description)`` triple of a Blender EnumProperty item."""
        return (self.key, self.label, self.description)


PRIORS = (
    Choice("procedural", "Procedural (offline)", "The built-in prior: no download, runs on any CPU", "MESH_ICOSPHERE"),
    Choice("stable-diffusion", "Stable Diffusion", "A local Stable Diffusion 1.x/2.x diffusers model", "IMAGE_DATA"),
    Choice("deepfloyd-if", "DeepFloyd IF", "A local DeepFloyd IF stage I diffusers model", "IMAGE_DATA"),
)

DEVICES = (
    Choice("auto", "Auto", "CUDA, then Apple MPS, then CPU"),
    Choice("cuda", "CUDA", "NVIDIA GPU"),
    Choice("mps", "MPS", "Apple silicon GPU"),
    Choice("cpu", "CPU", "Works everywhere, slowest"),
)


def prior_icon(key: str) -> str:
    """The icon of a prior in the model list; a question mark for a kind this add-on does not know."""
    return next((prior.icon for prior in PRIORS if prior.key == key), "QUESTION")
