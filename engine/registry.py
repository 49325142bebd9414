"""The one list of priors and of fields: each by name, with what the help texts and the add-on show of it, and the
class that implements it, imported only when a run uses it (the procedural prior never imports diffusers).

Standard library only: the add-on builds its prior menu from ``PRIORS`` (bridge/choices.py) without torch, and the
config's ``guidance.prior`` and ``field.name`` take exactly the names registered here (their choices are these
tables' live keys). A module outside the tree adds a prior or a field with ``register_prior`` or ``register_field``;
the engine's command line imports the modules ``DREAMFUSION_ENGINE_PLUGINS`` names (``load_plugins``) before it
reads its flags, so one file adds either (docs/architecture.md, Extending).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import EngineError

PLUGINS_VARIABLE = "DREAMFUSION_ENGINE_PLUGINS"  # module names, comma-separated


@dataclass(frozen=True)
class Registered:
    """A class chosen by name."""

    name: str  # what the command line and the config take
    target: str  # "module:Class", imported when a run uses it
    description: str  # one line: the help's, and the add-on's tooltip


@dataclass(frozen=True)
class PriorEntry(Registered):
    """A diffusion prior (``engine/guidance/base.py``) and what is said of it without loading it."""

    label: str  # what a person reads ("Stable Diffusion")
    default_guidance_scale: float  # classifier-free guidance when the run sets none (1: no guidance)
    learned: bool = False  # a large trained network: Perp-Neg and low memory apply; a CPU run says what it will cost
    in_blender: bool = False  # offered in the add-on's prior menu (the others are for the command line and bench)
    icon: str = "NONE"  # the Blender icon of its menu entry and model list row


@dataclass(frozen=True)
class FieldEntry(Registered):
    """A NeRF field (``engine/field/base.py``)."""


PRIORS: dict[str, PriorEntry] = {}
FIELDS: dict[str, FieldEntry] = {}

Entry = TypeVar("Entry", bound=Registered)


def _register(table: dict[str, Entry], entry: Entry, what: str) -> Entry:
    if entry.name in table:
        raise EngineError(
            f"the {what} {entry.name!r} is registered twice ({table[entry.name].target} and {entry.target}); "
            "give the new one another name",
            "input",
        )
    module_name, _, attr = entry.target.partition(":")
    if not module_name or not attr:
        raise EngineError(f"the {what} {entry.name!r} names {entry.target!r}; write it as 'module:Class'", "input")
    table[entry.name] = entry
    return entry


def register_prior(entry: PriorEntry) -> PriorEntry:
    """Add a prior: ``--prior`` and ``guidance.prior`` take its name from now on."""
    return _register(PRIORS, entry, "prior")


def register_field(entry: FieldEntry) -> FieldEntry:
    """Add a field: ``--field`` and ``field.name`` take its name from now on."""
    return _register(FIELDS, entry, "field")


def resolve(table: Mapping[str, Registered], name: str, what: str) -> Any:
    """The class registered under ``name``; an unknown name, or a class that cannot be imported, is a user error."""
    if name not in table:
        raise EngineError(f"unknown {what} {name!r}; choose one of: {', '.join(sorted(table))}", "input")
    target = table[name].target
    module_name, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise EngineError(
            f"the {what} {name!r} is registered as {target}, which cannot be imported ({exc}); "
            "install what it needs or choose another",
            "input",
        ) from exc


def load_plugins(names: str | None = None) -> list[str]:
    """Import the modules ``names`` lists (comma-separated; $DREAMFUSION_ENGINE_PLUGINS when None), each of which
    registers its priors or fields; returns their names. A module is found on ``sys.path`` as any import is
    (PYTHONPATH): choosing one is the user's own, as choosing what PYTHONPATH holds."""
    value = os.environ.get(PLUGINS_VARIABLE, "") if names is None else names
    modules = [name.strip() for name in value.split(",") if name.strip()]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise EngineError(
                f"the engine plugin {module!r} ({PLUGINS_VARIABLE}) cannot be imported ({exc}); put its folder on "
                f"PYTHONPATH, or remove it from {PLUGINS_VARIABLE}",
                "input",
            ) from exc
    return modules


def _guidance(module: str, name: str) -> str:
    return f"engine.guidance.{module}:{name}"


for _prior in (
    PriorEntry(
        "procedural", _guidance("procedural_camera", "CameraProceduralPrior"),
        "The built-in prior: no download, runs on any CPU", label="Procedural (offline)",
        # Measured ("a yellow duck", fast preset): IoU 0.910 at 1, 0.886 at 2; normal consistency 0.936 vs 0.904, at
        # half the speed (bench/REPORT.md has the sweep). Told the camera, the conditional data are already the
        # target; guidance pushes away from other scenes' renders, which only sharpens what is already right.
        default_guidance_scale=1.0, in_blender=True, icon="MESH_ICOSPHERE",
    ),
    PriorEntry(
        "procedural-text", _guidance("procedural_text", "TextProceduralPrior"),
        "The paper's setting, offline: told only the prompt and its view suffix (ablations)",
        label="Procedural, text only (offline)",
        # 3D probe, 500 steps: IoU 0.63 at 2, 0.56 at 1, 0.55 at 7.5
        default_guidance_scale=2.0,
    ),
    PriorEntry(
        "oracle", _guidance("oracle", "OraclePrior"),
        "The exact true render of each view: what the 3D machinery alone can reach (benchmarks)",
        label="Oracle (offline)", default_guidance_scale=1.0,
    ),
    PriorEntry(
        "stable-diffusion", _guidance("stable_diffusion", "StableDiffusionPrior"),
        "A local Stable Diffusion 1.x/2.x diffusers model", label="Stable Diffusion",
        # the paper's and threestudio's 100 in their convention (engine/config.py GuidanceConfig)
        default_guidance_scale=101.0, learned=True, in_blender=True, icon="IMAGE_DATA",
    ),
    PriorEntry(
        "deepfloyd-if", _guidance("deepfloyd_if", "DeepFloydIFPrior"),
        "A local DeepFloyd IF stage I diffusers model", label="DeepFloyd IF",
        # threestudio's 20 for IF, in its convention (engine/config.py GuidanceConfig)
        default_guidance_scale=21.0, learned=True, in_blender=True, icon="IMAGE_DATA",
    ),
):  # fmt: skip
    register_prior(_prior)

for _field in (
    FieldEntry("sdf-grid", "engine.field.sdf_grid:SDFGridField", "A signed-distance grid, coarse to fine"),
    FieldEntry("grid", "engine.field.grid:GridField", "A density grid, coarse to fine"),
    FieldEntry("mlp", "engine.field.mlp:MLPField", "The paper's MLP: ResNet blocks over a positional encoding"),
    FieldEntry("hash_grid", "engine.field.hash_grid:HashGridField", "instant-NGP's hash encoding with MLP heads"),
):
    register_field(_field)

EXECUTORS = {
    "local": Registered("local", "engine.batch.local_executor:LocalExecutor", "One prompt at a time on this machine"),
    "ray": Registered("ray", "engine.batch.ray_executor:RayExecutor", "One Ray task a prompt, here or on a cluster"),
}


def choices_help(table: Mapping[str, Registered], default: str) -> str:
    """A flag's help from what is registered when it is built: "procedural: The built-in prior ...; oracle: ...;
    default procedural"."""
    return "; ".join(f"{name}: {entry.description}" for name, entry in table.items()) + f"; default {default}"
