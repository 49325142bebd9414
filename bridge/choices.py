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


@dataclass(frozen=True)
class PriorChoice(Choice):
    """A prior, with what the panel says of its settings: its guidance scale when none is set (the engine's
    ``default_guidance_scale``, tests/bridge/test_choices.py keeps them equal) and whether it is a learned model
    (Perp-Neg and the low-memory mode apply to those only)."""

    default_guidance_scale: float = 1.0
    learned: bool = False


PRIORS = (
    PriorChoice(
        "procedural", "Procedural (offline)", "The built-in prior: no download, runs on any CPU", "MESH_ICOSPHERE",
        default_guidance_scale=1.0,
    ),
    PriorChoice(
        "stable-diffusion", "Stable Diffusion", "A local Stable Diffusion 1.x/2.x diffusers model", "IMAGE_DATA",
        default_guidance_scale=101.0, learned=True,
    ),
    PriorChoice(
        "deepfloyd-if", "DeepFloyd IF", "A local DeepFloyd IF stage I diffusers model", "IMAGE_DATA",
        default_guidance_scale=21.0, learned=True,
    ),
)  # fmt: skip

DEVICES = (
    Choice("auto", "Auto", "CUDA, then Apple MPS, then CPU"),
    Choice("cuda", "CUDA", "NVIDIA GPU"),
    Choice("mps", "MPS", "Apple silicon GPU"),
    Choice("cpu", "CPU", "Works everywhere, slowest"),
)


def find_prior(key: str) -> PriorChoice | None:
    return next((prior for prior in PRIORS if prior.key == key), None)


def is_learned(key: str) -> bool:
    """A learned diffusion model (Perp-Neg and the low-memory mode apply)."""
    prior = find_prior(key)
    return prior is not None and prior.learned


def prior_icon(key: str) -> str:
    """The icon of a prior in the model list; a question mark for a kind this add-on does not know."""
    prior = find_prior(key)
    return prior.icon if prior is not None else "QUESTION"


def prior_label(key: str) -> str:
    """What a person reads for a prior's key ("stable-diffusion" -> "Stable Diffusion"); the key itself when unknown."""
    prior = find_prior(key)
    return prior.label if prior is not None else key


def guidance_defaults_text() -> str:
    """ "Procedural (offline) 1, Stable Diffusion 101, DeepFloyd IF 21": each prior's own guidance scale."""
    return ", ".join(f"{prior.label} {prior.default_guidance_scale:g}" for prior in PRIORS)
