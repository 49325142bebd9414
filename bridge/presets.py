"""Quality presets as the panel shows them, read from the engine's own preset table (one source of truth)."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.config import PRESETS, RunConfig

_LABELS = {"fast": "Fast", "balanced": "Balanced", "quality": "Quality"}
_ORDER = ("fast", "balanced", "quality")


@dataclass(frozen=True)
class QualityPreset:
    key: str  # the engine's --preset value
    label: str
    steps: int
    mesh_resolution: int  # marching-cubes grid per side

    @property
    def description(self) -> str:
        return f"{self.steps} optimization steps, {self.mesh_resolution}³ mesh grid"


def _preset(key: str) -> QualityPreset:
    defaults = RunConfig()
    overrides = PRESETS[key]
    return QualityPreset(
        key=key,
        label=_LABELS.get(key, key.capitalize()),
        steps=int(overrides.get("optim.steps", defaults.optim.steps)),
        mesh_resolution=int(overrides.get("mesh.grid_resolution", defaults.mesh.grid_resolution)),
    )


QUALITY_PRESETS: tuple[QualityPreset, ...] = tuple(
    _preset(key) for key in sorted(PRESETS, key=lambda k: (_ORDER.index(k) if k in _ORDER else len(_ORDER), k))
)


def quality_preset(key: str) -> QualityPreset:
    for preset in QUALITY_PRESETS:
        if preset.key == key:
            return preset
    raise KeyError(f"unknown quality preset {key!r}")
