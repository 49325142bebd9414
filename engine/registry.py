"""Stages chosen by name from the config, imported lazily so a run loads only what it uses
(the procedural prior never imports diffusers)."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import EngineError

PRIORS = {
    "procedural": "engine.guidance.procedural_camera:CameraProceduralPrior",
    "procedural-text": "engine.guidance.procedural_text:TextProceduralPrior",
    "oracle": "engine.guidance.oracle:OraclePrior",
    "stable-diffusion": "engine.guidance.stable_diffusion:StableDiffusionPrior",
    "deepfloyd-if": "engine.guidance.deepfloyd_if:DeepFloydIFPrior",
}

FIELDS = {
    "sdf-grid": "engine.field.sdf_grid:SDFGridField",
    "grid": "engine.field.grid:GridField",
    "mlp": "engine.field.mlp:MLPField",
    "hash_grid": "engine.field.hash_grid:HashGridField",
}


def resolve(table: dict[str, str], name: str, what: str) -> Any:
    """The class registered under ``name``; an unknown name is a user error listing the choices."""
    if name not in table:
        raise EngineError(f"unknown {what} {name!r}; choose one of: {', '.join(sorted(table))}", "input")
    module_name, _, attr = table[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


EXECUTORS = {
    "local": "engine.batch.local_executor:LocalExecutor",
    "ray": "engine.batch.ray_executor:RayExecutor",
}
