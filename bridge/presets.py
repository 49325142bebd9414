"""Quality presets as the panel shows them, read from the engine's own preset table (one source of truth)."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.config import PRESETS, RunConfig
from ..engine.recipes import recipe_for, starting_settings

_LABELS = {"fast": "Fast", "balanced": "Balanced", "quality": "Quality"}
_ORDER = ("fast", "balanced", "quality")


@dataclass(frozen=True)
class QualityPreset:
    key: str  # the engine's --preset value
    label: str
    steps: int
    mesh_resolution: int  # marching-cubes grid per side
    refine_steps: int  # mesh refinement after extraction (0: none)

    @property
    def description(self) -> str:
        return work_summary(self.steps, self.mesh_resolution, self.refine_steps)


def work_summary(steps: int, mesh_resolution: int, refine_steps: int) -> str:
    """ "1200 optimization steps, 128³ mesh grid, 600 refinement steps" (no refinement: the last part left out)."""
    refined = f", {refine_steps} refinement steps" if refine_steps else ""
    return f"{steps} optimization steps, {mesh_resolution}³ mesh grid{refined}"


def _preset(key: str) -> QualityPreset:
    defaults = RunConfig()
    overrides = PRESETS[key]
    return QualityPreset(
        key=key,
        label=_LABELS.get(key, key.capitalize()),
        steps=int(overrides.get("optim.steps", defaults.optim.steps)),
        mesh_resolution=int(overrides.get("mesh.grid_resolution", defaults.mesh.grid_resolution)),
        refine_steps=int(overrides.get("mesh.refine.steps", defaults.mesh.refine.steps)),
    )


QUALITY_PRESETS: tuple[QualityPreset, ...] = tuple(
    _preset(key) for key in sorted(PRESETS, key=lambda k: (_ORDER.index(k) if k in _ORDER else len(_ORDER), k))
)


def run_summary(preset_key: str, prior: str) -> str:
    """What a new run of ``prior`` at this preset will do, from the engine's own layering (a learned prior's recipe
    sets its anchor's step count whatever the preset): "Fast: 600 optimization steps, 128³ mesh grid", or with
    "(recipe dreamfusion-sd)" where the prior's recipe changes the preset's."""
    preset = quality_preset(preset_key)
    start = starting_settings(prior, preset_key)
    steps = int(start.get("optim.steps", preset.steps))
    resolution = int(start.get("mesh.grid_resolution", preset.mesh_resolution))
    refine_steps = int(start.get("mesh.refine.steps", preset.refine_steps))
    recipe = recipe_for(prior)
    by = f" (recipe {recipe.name})" if recipe.settings else ""
    return f"{preset.label}{by}: {work_summary(steps, resolution, refine_steps)}"


def quality_preset(key: str) -> QualityPreset:
    for preset in QUALITY_PRESETS:
        if preset.key == key:
            return preset
    raise KeyError(f"unknown quality preset {key!r}")
