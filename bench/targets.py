"""Every benchmark target in one table: what is measured, the bar, which way it is judged and where the bar comes from.

A bar that is an engine default (the mesh's face budget, the bench's grid and texture sizes) is read from
``engine/config.py`` here, so a changed default moves its target with it. The benchmarks and the report read
their bars from this table only.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from engine.config import MeshConfig

ENGINE_MESH = MeshConfig()

GB = 1e9
GOAL = "set by the project for this benchmark"

_COMPARE: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Target:
    """One bar: ``metric comparison threshold`` (``faces <= 60000``), judged on what ``benchmark`` measures."""

    name: str  # how code and tests look it up
    benchmark: str  # the results kind it judges (results_file.py)
    metric: str  # what is measured, in words
    threshold: float
    comparison: Literal[">=", "<=", "<"]
    source: str  # where the threshold comes from
    unit: str = ""  # the unit the threshold is shown in ("s", "GB")
    scale: float = 1.0  # measured values per shown unit (1e9 for bytes shown as GB)

    def met(self, measured: float) -> bool:
        """Judged as printed to three places: 0.93 - 0.88 is 0.05, not 0.05000000000000004."""
        return _COMPARE[self.comparison](round(measured, 3), self.threshold)

    def verdict(self, measured: float) -> str:
        return "met" if self.met(measured) else f"**missed** by {abs(measured - self.threshold):.3f}"

    def text(self, threshold: str | None = None) -> str:
        """``metric >= threshold unit``, the threshold as ``threshold`` says (default: as the number prints)."""
        shown = threshold or f"{self.threshold / self.scale:g}"
        return f"{self.metric} {self.comparison} {shown}" + (f" {self.unit}" if self.unit else "")


TARGETS: tuple[Target, ...] = (
    Target("iou-shape", "quality", "mean IoU, shape", 0.85, ">=", GOAL),
    Target("iou-composition", "quality", "mean IoU, composition", 0.80, ">=", GOAL),
    Target("iou-fronted", "quality", "mean IoU, fronted", 0.70, ">=", GOAL),
    Target("normal-consistency", "quality", "mean normal consistency", 0.90, ">=", GOAL),
    Target(
        "faces",
        "quality",
        "most faces",
        float(ENGINE_MESH.face_budget),  # type: ignore[arg-type]  # None (no budget) is not a default to judge
        "<=",
        "engine default: MeshConfig.face_budget (engine/config.py)",
    ),
    Target("decimation-chamfer", "quality", "decimated Chamfer above undecimated", 0.10, "<=", GOAL),
    Target("color-spread", "quality", "IoU spread of a white, gray and black cube", 0.05, "<=", GOAL),
    Target("oracle-gap", "quality", "IoU below the oracle's", 0.05, "<=", GOAL),
    Target(
        "remesh-total",
        "mesh",
        f"remesh of a {ENGINE_MESH.grid_resolution}^3 grid with vertex bake",
        10.0,
        "<=",
        GOAL + "; grid size: engine default MeshConfig.grid_resolution",
        "s",
    ),
    Target(
        "texture-bake",
        "mesh",
        f"{ENGINE_MESH.texture_size}^2 texture bake",
        20.0,
        "<=",
        GOAL + "; texture size: engine default MeshConfig.texture_size",
        "s",
    ),
    Target("import-total", "import", "whole import of a 300k-triangle mesh, median", 1.0, "<", GOAL, "s"),
    Target("prompt-set-build", "prior", "procedural prompt image set build", 20.0, "<=", GOAL, "s"),
    Target("eps-query", "prior", "procedural eps query at 64 px", 10.0, "<=", GOAL, "ms"),
    Target("gpu-sd-it-per-s", "gpu", "stable-diffusion SDS steps at batch 1", 15.0, ">=", GOAL, "it/s"),
    Target("gpu-sd-peak", "gpu", "stable-diffusion peak memory", 8 * GB, "<", GOAL, "GB", GB),
    Target("device-offline-it-per-s", "device-check", "offline prior, generate", 50.0, ">=", GOAL, "it/s"),
    Target("device-sd-it-per-s", "device-check", "stable-diffusion, generate", 15.0, ">=", GOAL, "it/s"),
    Target("device-sd-peak", "device-check", "stable-diffusion peak memory", 8 * GB, "<=", GOAL, "GB", GB),
    Target(
        "device-sd-low-memory-peak",
        "device-check",
        "stable-diffusion low-memory peak memory",
        6 * GB,
        "<=",
        GOAL,
        "GB",
        GB,
    ),
    Target("device-if-peak", "device-check", "deepfloyd-if peak memory, either mode", 16 * GB, "<=", GOAL, "GB", GB),
    Target("orphans", "reliability", "orphans", 0, "<=", GOAL),
    Target("lost-runs", "reliability", "lost runs", 0, "<=", GOAL),
    Target("internal-errors", "reliability", "internal errors", 0, "<=", GOAL),
    Target("matrix-defects", "reliability", "defects", 0, "<=", GOAL),
)

_BY_NAME = {t.name: t for t in TARGETS}


def target(name: str) -> Target:
    """The target called ``name`` (a KeyError names a target that is not in the table)."""
    return _BY_NAME[name]


def targets_of(benchmark: str) -> tuple[Target, ...]:
    return tuple(t for t in TARGETS if t.benchmark == benchmark)
