"""Finding and loading the parts of a diffusers checkpoint safely, with errors a user can act on.

A model is named by a local folder or a hub id. Offline, a hub id must already be in the local
cache; its cached snapshot is then checked like a folder, so a half-finished download names the
missing parts instead of failing deep inside diffusers. Weights load from .safetensors only (a
pickled .bin can run code when loaded) and no repository code is ever executed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import snapshot_download
from huggingface_hub.errors import EntryNotFoundError, HFValidationError
from huggingface_hub.utils import validate_repo_id

from ..errors import PriorError
from ..stage_progress import Progress

# The config file each part of a diffusers layout must have; the weighted parts also need .safetensors weights.
_PART_CONFIG = {
    "unet": "config.json",
    "vae": "config.json",
    "text_encoder": "config.json",
    "tokenizer": "tokenizer_config.json",
    "scheduler": "scheduler_config.json",
}
_WEIGHTED_PARTS = {"unet", "vae", "text_encoder"}
_PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth")
_HALF_VARIANT = "fp16"


@dataclass(frozen=True)
class ModelSource:
    """A checked place to load a checkpoint from: a local folder, or a hub id to download (online only)."""

    label: str  # what the user named, for messages
    location: str  # folder path or hub id, passed to from_pretrained
    is_folder: bool
    offline: bool
    cache_dir: Path | None  # the Hugging Face hub cache (None: huggingface_hub's default)


def download_hint(repo_id: str) -> str:
    """How a user gets a model into the local cache."""
    return (
        f"download it with the add-on's model manager or `hf download {repo_id}` while online, "
        "or pass a local model folder"
    )


def _looks_like_path(name: str) -> bool:
    """Hub ids are 'owner/name'; anything else with path syntax is meant as a folder."""
    return Path(name).is_absolute() or name.startswith((".", "~")) or "\\" in name or name.count("/") > 1


def _safetensors_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.safetensors"))


def _missing_parts(folder: Path, parts: tuple[str, ...]) -> list[str]:
    """What a diffusers folder lacks for ``parts``, in words; pickled weights count as missing."""
    missing = [] if (folder / "model_index.json").is_file() else ["model_index.json"]
    for part in parts:
        config = folder / part / _PART_CONFIG[part]
        if not config.is_file():
            missing.append(f"{part}/{_PART_CONFIG[part]}")
        if part in _WEIGHTED_PARTS and not _safetensors_files(folder / part):
            pickled = any(p.suffix in _PICKLE_SUFFIXES for p in (folder / part).glob("*"))
            missing.append(
                f"{part} weights as .safetensors (only pickled weights found, which are refused)"
                if pickled
                else f"{part} weights (*.safetensors)"
            )
    return missing


def _check_folder(folder: Path, parts: tuple[str, ...], label: str) -> None:
    missing = _missing_parts(folder, parts)
    if missing:
        raise PriorError(f"{label} is not a usable diffusers model folder: it lacks {', '.join(missing)}")


def resolve_model(
    name: str, parts: tuple[str, ...], *, offline: bool, cache_dir: Path | None, prior: str
) -> ModelSource:
    """Check that ``name`` (folder or hub id) can provide ``parts``, without loading any weights."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        _check_folder(folder, parts, f"the {prior} model folder {name}")
        return ModelSource(name, str(folder), True, offline, cache_dir)
    if folder.exists() or _looks_like_path(name):
        raise PriorError(
            f"the {prior} model folder {name} does not exist or is not a folder; "
            "pass a diffusers model folder (with model_index.json) or a hub id"
        )
    try:
        validate_repo_id(name)
    except HFValidationError as exc:
        raise PriorError(f"the {prior} model {name!r} is neither an existing folder nor a valid hub id") from exc
    if not offline:
        return ModelSource(name, name, False, offline, cache_dir)
    try:
        # Only model_index.json is required here: a download of just the parts we use is complete
        # enough, and those parts are checked below with a message naming what is missing.
        snapshot = Path(
            snapshot_download(name, local_files_only=True, cache_dir=cache_dir, allow_patterns=["model_index.json"])
        )
    except OSError as exc:  # LocalEntryNotFoundError and IncompleteSnapshotError among them
        raise PriorError(
            f"the {prior} model {name} is not in the local model cache and the engine is offline; "
            + download_hint(name)
        ) from exc
    _check_folder(snapshot, parts, f"the cached copy of {name} (an incomplete download?)")
    return ModelSource(name, str(snapshot), True, offline, cache_dir)


def _weights_variant(source: ModelSource, part: str, dtype: torch.dtype) -> str | None:
    """Read the 'fp16' file variant when it is there and half precision is wanted (or it is all there is)."""
    if not source.is_folder:
        return None
    names = _safetensors_files(Path(source.location) / part)
    half_files = [n for n in names if f".{_HALF_VARIANT}." in n or f".{_HALF_VARIANT}-" in n]
    full_files = [n for n in names if n not in half_files]
    if half_files and (dtype == torch.float16 or not full_files):
        return _HALF_VARIANT
    return None


def load_part(source: ModelSource, loader: Any, part: str, dtype: torch.dtype | None = None) -> Any:
    """``loader.from_pretrained`` for one part (subfolder) of the checkpoint, safely.

    ``dtype`` is given for parts with weights (models), None for tokenizers and schedulers.
    """
    kwargs: dict[str, Any] = {"subfolder": part, "local_files_only": source.offline}
    if source.cache_dir is not None:
        kwargs["cache_dir"] = str(source.cache_dir)
    if dtype is not None:
        kwargs.update(use_safetensors=True, dtype=dtype, variant=_weights_variant(source, part, dtype))
    try:
        return loader.from_pretrained(source.location, **kwargs)
    except (OSError, ValueError, ImportError, EntryNotFoundError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PriorError(
            f"could not load the {part} of {source.label} ({reason}); download the model again or pass another one"
        ) from exc


class PartLoader:
    """Loads a checkpoint's parts one after another, reporting each part done to ``progress``: the stop of a
    run that is loading a model lands between two parts (``engine/stage_progress.py``)."""

    def __init__(self, source: ModelSource, parts: tuple[str, ...], progress: Progress) -> None:
        self.source = source
        self.parts = parts
        self.progress = progress
        self.loaded = 0
        progress(0.0)

    def __call__(self, loader: Any, part: str, dtype: torch.dtype | None = None) -> Any:
        """``load_part`` of one of ``parts``."""
        value = load_part(self.source, loader, part, dtype)
        self.loaded += 1
        self.progress(self.loaded / len(self.parts))
        return value


def frozen(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A model used only as a fixed function: on ``device``, eval mode, no parameter gradients."""
    return module.to(device).eval().requires_grad_(False)
