"""A new run's settings from its command line, layered as engine/recipes.py says, and where its prior caches data.

    the dataclass defaults  <  the quality preset  <  the prior's recipe  <  the flags  <  ``--set``

The flags' names map to config fields here (``RESUME_FLAGS``, ``NEW_RUN_FLAGS``), so ``generate`` and the benchmarks
build a run's config the one way. Standard library only.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .config import RunConfig, override
from .config_schema import parse_set
from .errors import EngineError
from .protocol import MAX_PROMPT_CHARS
from .recipes import starting_settings

DEFAULT_PRESET = "balanced"
# What --resume may change (written back to config.json), by flag; every other run flag is fixed by the run.
RESUME_FLAGS = {
    "steps": "optim.steps",
    "device": "device",
    "guidance_scale": "guidance.guidance_scale",
    "preview_every": "preview_every",
    "checkpoint_every": "checkpoint_every",
    "low_memory": "guidance.low_memory",  # the same result in less memory: the way on after running out
}
# The flags only a new run takes, as the user types them.
NEW_RUN_FLAGS = {
    "prompt": "--prompt",
    "negative_prompt": "--negative-prompt",
    "prior": "--prior",
    "field": "--field",
    "model": "--model",
    "preset": "--preset",
    "seed": "--seed",
    "out": "--out",
    "set": "--set",
}


def given_flags(args: argparse.Namespace, table: dict[str, str]) -> dict[str, Any]:
    """The dotted config fields of the flags in ``table`` that were given."""
    return {path: getattr(args, name) for name, path in table.items() if getattr(args, name) is not None}


def build_config(args: argparse.Namespace) -> RunConfig:
    """A checked RunConfig: the preset, then the chosen prior's recipe, then the flags, then ``--set``, each over the
    one before (engine/recipes.py); checks the prompt first."""
    prompt = (args.prompt or "").strip()
    if not prompt:
        raise EngineError("the prompt is empty: describe an object, for example --prompt 'a red cube'", "input")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise EngineError(f"the prompt is {len(prompt)} characters long; keep it under {MAX_PROMPT_CHARS}", "input")
    config = RunConfig(prompt=prompt)
    flags = {"guidance.prior": args.prior, "field.name": args.field, "guidance.model": args.model, "seed": args.seed}
    flags["guidance.negative_prompt"] = args.negative_prompt
    user = {path: value for path, value in flags.items() if value is not None}
    user.update(given_flags(args, RESUME_FLAGS))
    user.update(parse_set(args.set))
    prior = user.get("guidance.prior", config.guidance.prior)
    dotted = starting_settings(str(prior), args.preset or DEFAULT_PRESET)
    dotted.update(user)
    override(config, dotted)
    return config


def default_cache_dir() -> Path:
    """Where priors keep data between runs when ``--cache-dir`` is not given: $DREAMFUSION_CACHE, else the user's
    cache folder."""
    base = os.environ.get("DREAMFUSION_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "dreamfusion"
    )
    return Path(base)
