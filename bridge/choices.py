"""The choices the add-on offers, one list each: the priors and the devices (no bpy).

The priors are the engine's own list (``engine/registry.py`` PRIORS, torch-free), those marked ``in_blender``: a
prior's label, tooltip, icon, default guidance scale and whether it is learned live there alone. The preferences
(default prior, device) and the scene settings (prior, with "Default" first) build their menus from these lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.registry import PRIORS as ENGINE_PRIORS
from ..engine.registry import PriorEntry


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


# The engine's priors the add-on offers, in the engine's order (their EnumProperty numbers follow it).
PRIORS: tuple[PriorEntry, ...] = tuple(prior for prior in ENGINE_PRIORS.values() if prior.in_blender)

DEVICES = (
    Choice("auto", "Auto", "CUDA, then Apple MPS, then CPU"),
    Choice("cuda", "CUDA", "NVIDIA GPU"),
    Choice("mps", "MPS", "Apple silicon GPU"),
    Choice("cpu", "CPU", "Works everywhere, slowest"),
)


def prior_enum_items() -> list[tuple[str, str, str]]:
    """The ``(identifier, name, description)`` triples of the prior menu's EnumProperty items, in order."""
    return [(prior.name, prior.label, prior.description) for prior in PRIORS]


def find_prior(key: str) -> PriorEntry | None:
    """A prior the add-on offers, by its engine name."""
    return next((prior for prior in PRIORS if prior.name == key), None)


def is_learned(key: str) -> bool:
    """A learned diffusion model (Perp-Neg and the low-memory mode apply)."""
    prior = find_prior(key)
    return prior is not None and prior.learned


def prior_icon(key: str) -> str:
    """The icon of a prior in the model list; a question mark for a kind this add-on does not offer."""
    prior = find_prior(key)
    return prior.icon if prior is not None else "QUESTION"


def prior_label(key: str) -> str:
    """What a person reads for a prior's key ("stable-diffusion" -> "Stable Diffusion"); the key itself when unknown."""
    prior = ENGINE_PRIORS.get(key)
    return prior.label if prior is not None else key


def guidance_defaults_text() -> str:
    """ "Procedural (offline) 1, Stable Diffusion 101, DeepFloyd IF 21": each offered prior's own guidance scale."""
    return ", ".join(f"{prior.label} {prior.default_guidance_scale:g}" for prior in PRIORS)
