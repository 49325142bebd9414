"""Recipes: the settings a prior is run with, applied when the prior is chosen (as threestudio's configs are).

A new run's settings are layered, each layer over the one before (``engine/config_assembly.py``):

    the dataclass defaults  <  the quality preset  <  the prior's recipe  <  the flags  <  ``--set``

so a recipe's step count beats the preset's (a learned prior needs its anchor's 10,000 steps whatever the quality
preset; the preset still picks what the recipe leaves alone, the mesh grid), and whatever the user gives on the
command line wins over both. The resolved settings are the run's config.json (``generate --dry-run`` prints them).

The offline priors' recipes are empty: the defaults were measured on them (bench/REPORT.md). The learned priors'
follow threestudio's configs/dreamfusion-sd.yaml and dreamfusion-if.yaml setting by setting; docs/recipes.md gives
each value's source, and tests/engine/test_recipes.py checks that every prior resolves to that table.
Standard library only: the add-on reads the step count a prior will run.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .config import PRESETS
from .errors import EngineError

# The field the learned recipes use: the anchors' multiresolution hash-grid density field, with their encoding and
# their density output (the field's offline default is a signed distance).
LEARNED_FIELD = "hash_grid"


@dataclass(frozen=True)
class Recipe:
    """A named set of settings (dotted paths, as ``--set`` takes them) for one prior."""

    name: str
    prior: str
    settings: MappingProxyType[str, Any]
    source: str  # where its values come from (docs/recipes.md has each one's)


def _learned(guidance_scale: float) -> dict[str, Any]:
    """threestudio's DreamFusion recipe, which its SD and IF configs share but for the guidance scale."""
    return {
        "optim.steps": 10_000,
        "optim.lr": 0.01,
        "optim.albedo_lr": 0.01,
        "optim.warmup_fraction": 0.0,
        "optim.lr_end_factor": 1.0,
        "optim.adam_eps": 1e-15,
        "optim.grad_clip": None,
        "shading.ambient_warmup_fraction": 0.2,
        "camera.elevation_range_deg": (-10.0, 90.0),
        "camera.fovy_range_deg": (40.0, 70.0),
        "field.name": LEARNED_FIELD,
        # the field's own defaults are scaled for a CPU (engine/config.py HashGridConfig); the anchors' encoding:
        "field.hash_grid.levels": 16,
        "field.hash_grid.log2_table_size": 19,
        "field.hash_grid.finest_resolution": 4096,
        "field.hash_grid.start_levels": 8,
        "field.hash_grid.output": "density",
        "field.blob": "magic3d",
        "field.blob_strength": 10.0,
        # threestudio 512 (pruned by an occupancy grid), stable-dreamfusion 64 (+ 32 importance samples): its 64, as
        # 512 does not fit (docs/recipes.md has the measurement)
        "render.samples_per_ray": 64,
        "render.resolution": 64,
        "regularizers.opacity_weight": 1.0,
        "regularizers.orientation_weight_start": 10.0,
        "regularizers.orientation_weight": 1000.0,
        "regularizers.orientation_anneal_fraction": 0.5,
        "regularizers.orientation_ramp": "linear",
        "guidance.guidance_scale": guidance_scale,
        "guidance.t_range": (0.02, 0.98),
        "guidance.weighting": "sds",
        # threestudio's DreamFusion configs end at the field (Magic3D's fine stage is another config); refinement
        # was measured on the offline priors only, whose views from below may score otherwise than a learned prior's
        "mesh.refine.steps": 0,
    }


def _recipe(name: str, prior: str, settings: dict[str, Any], source: str) -> Recipe:
    return Recipe(name, prior, MappingProxyType(settings), source)


OFFLINE_SOURCE = "the defaults, measured on the offline priors (bench/REPORT.md)"
RECIPES: dict[str, Recipe] = {
    recipe.prior: recipe
    for recipe in (
        _recipe("procedural", "procedural", {}, OFFLINE_SOURCE),
        _recipe("procedural-text", "procedural-text", {}, OFFLINE_SOURCE),
        _recipe("oracle", "oracle", {}, OFFLINE_SOURCE),
        # threestudio's guidance scale 100 and 20 are ours 101 and 21 (engine/config.py GuidanceConfig)
        _recipe("dreamfusion-sd", "stable-diffusion", _learned(101.0), "threestudio configs/dreamfusion-sd.yaml"),
        _recipe("dreamfusion-if", "deepfloyd-if", _learned(21.0), "threestudio configs/dreamfusion-if.yaml"),
    )
}


def register_recipe(name: str, prior: str, settings: dict[str, Any], source: str) -> Recipe:
    """Give a prior registered outside the tree (engine/registry.py) its recipe; a prior has one at most."""
    if prior in RECIPES:
        raise EngineError(f"the prior {prior!r} has a recipe already ({RECIPES[prior].name}); it takes one", "input")
    RECIPES[prior] = _recipe(name, prior, settings, source)
    return RECIPES[prior]


def recipe_for(prior: str) -> Recipe:
    """The recipe of ``prior``; a prior without one (a name the config will refuse) gets none."""
    return RECIPES.get(prior, _recipe("none", prior, {}, "the defaults"))


def starting_settings(prior: str, preset: str) -> dict[str, Any]:
    """What a new run of ``prior`` at quality ``preset`` starts from, before the user's flags and ``--set``: the
    preset's settings with the recipe's over them (a client shows its step count from here)."""
    return {**PRESETS[preset], **recipe_for(prior).settings}
