"""Checkpoints: field parameters, Adam state and the run's RNG state in safetensors plus a JSON
sidecar, written atomically, so a resumed CPU run continues bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .atomic_write import old_path, replacing
from .errors import EngineError

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


def load(directory: Path, field: torch.nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> int:
    """Restore a checkpoint into the given objects; returns the step it was taken at."""
    directory = Path(directory)
    if not directory.is_dir() and old_path(directory).is_dir():
        directory = old_path(directory)  # a crash between the two renames
    try:
        meta = json.loads((directory / META_FILE).read_text())
        tensors = load_file(directory / STATE_FILE)
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format {meta.get('format_version')}")
        field.load_state_dict({k[len("field.") :]: v for k, v in tensors.items() if k.startswith("field.")})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        generator.set_state(tensors["rng"])
        return int(meta["step"])
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError, json.JSONDecodeError) as exc:
        raise EngineError(
            f"the checkpoint in {directory} is missing or corrupt ({type(exc).__name__}: {exc}); "
            "start a new run instead of resuming this one",
            "checkpoint",
        ) from exc
