"""Checkpoints: field parameters, Adam state and the run's RNG state in safetensors plus a JSON
sidecar, written atomically, so a resumed CPU run continues bit for bit.

What is read back is checked as strictly as what is written: a sidecar that parses but is not one
(``[1, 2]``, ``null``, a step that is not a whole number or lies past the run's end) is named as a
corrupt checkpoint, never trusted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save_file

from .atomic_write import old_path, replacing
from .errors import EngineError
from .run_files import read_bytes, read_text

STATE_FILE = "state.safetensors"
META_FILE = "meta.json"
FORMAT_VERSION = 1


def save(
    directory: Path, step: int, field: torch.nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator
) -> Path:
    """Write ``directory`` atomically: the previous checkpoint stays until the new one is complete."""
    directory = Path(directory)
    tensors = {f"field.{name}": value.detach().cpu().contiguous() for name, value in field.state_dict().items()}
    optimizer_state = optimizer.state_dict()
    for index, state in optimizer_state["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng"] = generator.get_state()
    meta = {"format_version": FORMAT_VERSION, "step": step, "param_groups": optimizer_state["param_groups"]}
    with replacing(directory) as partial:
        partial.mkdir(parents=True)
        save_file(tensors, partial / STATE_FILE)
        (partial / META_FILE).write_text(json.dumps(meta))
    return directory


def located(directory: Path) -> Path:
    """The checkpoint folder, or the one a crash between the two renames left as ``.old``."""
    directory = Path(directory)
    if not directory.is_dir() and old_path(directory).is_dir():
        return old_path(directory)
    return directory


def exists(directory: Path) -> bool:
    """Whether a checkpoint was ever completed here (its sidecar is there; it may still be corrupt)."""
    return (located(directory) / META_FILE).is_file()


def corrupt(directory: Path, reason: str) -> EngineError:
    return EngineError(
        f"the checkpoint in {directory} is missing or corrupt ({reason}); start a new run instead of resuming this one",
        "checkpoint",
    )


def read_meta(directory: Path, total_steps: int | None = None) -> dict[str, Any]:
    """The checked sidecar of the checkpoint in ``directory`` (of a run of ``total_steps`` steps, when given)."""
    directory = located(directory)
    try:
        meta = json.loads(read_text(directory / META_FILE))
    except (OSError, ValueError) as exc:
        raise corrupt(directory, f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(meta, dict):
        raise corrupt(directory, f"{META_FILE} holds {json.dumps(meta)[:40]}, not an object")
    if meta.get("format_version") != FORMAT_VERSION:
        raise corrupt(directory, f"format {meta.get('format_version')!r}, this engine reads {FORMAT_VERSION}")
    step = meta.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise corrupt(directory, f"its step is {json.dumps(step)}, not a whole number")
    if total_steps is not None and step > total_steps:
        raise corrupt(directory, f"its step {step} lies past the end of this {total_steps}-step run")
    if not isinstance(meta.get("param_groups"), list) or not all(isinstance(g, dict) for g in meta["param_groups"]):
        raise corrupt(directory, "its optimizer settings are not a list of parameter groups")
    return meta


def load(
    directory: Path,
    field: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    total_steps: int,
) -> int:
    """Restore a checkpoint into the given objects; returns the step it was taken at."""
    directory = located(directory)
    meta = read_meta(directory, total_steps)
    try:
        tensors = load_tensors(read_bytes(directory / STATE_FILE))
        field.load_state_dict({k[len("field.") :]: v for k, v in tensors.items() if k.startswith("field.")})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        generator.set_state(tensors["rng"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        raise corrupt(directory, f"{type(exc).__name__}: {exc}") from exc
    return int(meta["step"])
