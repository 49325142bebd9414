"""Finding diffusers models on disk by their ``model_index.json``, without loading them.

Standard library only (no torch, no diffusers): the engine's ``models`` and ``doctor`` commands
use it, and the Blender add-on may import it. A model is *complete* when every component its
``model_index.json`` lists is on disk with safetensors weights (pickled ``.bin`` weights do not
count: the engine never loads them), in the default precision or a variant such as fp16.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import EngineError
from .payloads import ModelEntry, ModelList

PROCEDURAL_ID = "procedural"
MODEL_INDEX = "model_index.json"

# model_index.json ``_class_name`` -> the prior that can use the model.
PIPELINE_KINDS = {
    "StableDiffusionPipeline": "stable-diffusion",
    "IFPipeline": "deepfloyd-if",
}


@dataclass(frozen=True)
class KnownModel:
    """A model the add-on offers to download when it is not on this machine."""

    repo_id: str
    kind: str
    title: str
    licence: str
    gated: bool  # the hub serves it only to logged-in users who accepted its licence
    variant: str | None  # the weights variant a download fetches (fp16 halves the download)

    @property
    def licence_note(self) -> str:
        """The sentence the model list shows next to the model."""
        if self.gated:
            return (
                f"Needs the {self.licence} accepted at https://huggingface.co/{self.repo_id} "
                "and a Hugging Face access token in the preferences."
            )
        return f"Released under the {self.licence}."


KNOWN_MODELS = (
    KnownModel("stabilityai/stable-diffusion-2-1-base", "stable-diffusion", "Stable Diffusion 2.1 base",
               licence="CreativeML Open RAIL++-M licence", gated=False, variant="fp16"),
    KnownModel("DeepFloyd/IF-I-XL-v1.0", "deepfloyd-if", "DeepFloyd IF stage I XL",
               licence="DeepFloyd IF licence", gated=True, variant="fp16"),
)  # fmt: skip


def hub_cache_dir(environ: dict[str, str] | None = None) -> Path:
    """The Hugging Face hub cache, resolved the way huggingface_hub resolves it."""
    env = os.environ if environ is None else environ
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(name):
            return Path(env[name]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    cache_root = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return cache_root / "huggingface" / "hub"


_SINGLE_WEIGHTS = re.compile(r"^(?:diffusion_pytorch_model|model)(?:\.(?P<variant>\w+))?\.safetensors$")
_WEIGHTS_INDEX = re.compile(r"^(?:diffusion_pytorch_model|model)\.safetensors\.index(?:\.(?P<variant>\w+))?\.json$")
_WEIGHT_SHARD = re.compile(r"^(?:diffusion_pytorch_model|model)(?:\.(?P<variant>\w+))?-\d+-of-\d+\.safetensors$")
_PICKLED_WEIGHTS = re.compile(r"\.(?:bin|ckpt|pt|pth)$")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "spiece.model")


def weights_file_variant(name: str) -> str | None:
    """The variant ("" for the default) of a safetensors weights file, shard or shard index; None for other files."""
    for pattern in (_SINGLE_WEIGHTS, _WEIGHT_SHARD, _WEIGHTS_INDEX):
        match = pattern.match(name)
        if match:
            return match["variant"] or ""
    return None


def files_to_download(repo_files: list[str], variant: str | None) -> list[str]:
    """The files of a hub diffusers repository the engine needs: the model index, each component's configs
    and tokenizer files, and its safetensors weights in ``variant`` where it has them, else the default ones."""
    chosen: list[str] = []
    weights: dict[str, dict[str, list[str]]] = {}  # component -> variant -> files
    for path in repo_files:
        component, _, name = path.rpartition("/")
        if not component:
            if name == MODEL_INDEX:
                chosen.append(path)
            continue
        if "/" in component:
            continue  # not part of a diffusers layout
        file_variant = weights_file_variant(name)
        if file_variant is not None:
            weights.setdefault(component, {}).setdefault(file_variant, []).append(path)
        elif name.endswith((".json", ".txt", ".model")):
            chosen.append(path)
    for by_variant in weights.values():
        chosen += by_variant.get(variant or "") or by_variant.get("", [])
    return sorted(chosen)


def _weight_variants(folder: Path, component: str, missing: list[str]) -> set[str]:
    """The variants ("" for the default) with complete safetensors weights in a component folder;
    when there is none, say why in ``missing``."""
    variants: set[str] = set()
    broken: list[str] = []
    names = {p.name for p in folder.iterdir() if p.is_file()}  # is_file follows links: broken links drop out
    for name in names:
        single = _SINGLE_WEIGHTS.match(name)
        index = _WEIGHTS_INDEX.match(name)
        if single:
            variants.add(single["variant"] or "")
        elif index:
            try:
                shards = set(json.loads((folder / name).read_text())["weight_map"].values())
            except (OSError, ValueError, KeyError, AttributeError, TypeError):  # TypeError: a list, not an index
                broken.append(f"{component}: unreadable {name}")
                continue
            absent = shards - names
            if absent:
                broken.append(f"{component}: {len(absent)} of {len(shards)} weight shards missing")
            else:
                variants.add(index["variant"] or "")
    if variants:
        return variants
    if broken:
        missing.extend(broken)
    elif any(_PICKLED_WEIGHTS.search(n) for n in names):
        missing.append(f"{component}: only pickled .bin weights (safetensors needed)")
    else:
        missing.append(f"{component}: no safetensors weights")
    return variants


def _check_component(folder: Path, component: str, class_name: str, missing: list[str]) -> set[str] | None:
    """Append what the component lacks to ``missing``; return its weight variants (None: no weights needed)."""
    if not folder.is_dir():
        missing.append(f"{component}: folder missing")
        return None
    if class_name.endswith("Scheduler"):
        required: tuple[str, ...] = ("scheduler_config.json",)
    elif "Tokenizer" in class_name:
        if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
            missing.append(f"{component}: tokenizer files missing")
        return None
    elif class_name.endswith(("ImageProcessor", "FeatureExtractor")):
        required = ("preprocessor_config.json",)
    else:
        if not (folder / "config.json").is_file():
            missing.append(f"{component}: config.json missing")
        return _weight_variants(folder, component, missing)
    for name in required:
        if not (folder / name).is_file():
            missing.append(f"{component}: {name} missing")
    return None


def folder_size(folder: Path) -> int:
    """Bytes on disk under ``folder``, following file links (the hub cache links snapshots to blobs) once each."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                stat = os.stat(os.path.join(root, name))
            except OSError:  # a broken link: the blob is gone
                continue
            key = (stat.st_dev, stat.st_ino)
            if key not in seen:
                seen.add(key)
                total += stat.st_size
    return total


def inspect_model(folder: Path, model_id: str | None = None, source: str = "folder") -> ModelEntry | None:
    """The entry for the diffusers model in ``folder``; None when it is not a pipeline a prior can use.

    Raises EngineError (kind "prior") when ``model_index.json`` exists but cannot be read.
    """
    index_path = folder / MODEL_INDEX
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EngineError(
            f"The model index {index_path} cannot be read ({exc}); download that model again or remove the folder.",
            "prior",
        ) from exc
    class_name = index.get("_class_name") if isinstance(index, dict) else None
    kind = PIPELINE_KINDS.get(class_name) if isinstance(class_name, str) else None  # ["a", "B"]: not a pipeline
    if kind is None:
        return None
    missing: list[str] = []
    variant_only: set[str] = set()  # variants of components that have no default-precision weights
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[1] is None:
            continue  # metadata, flags like requires_safety_checker, or a component saved as None
        variants = _check_component(folder / component, component, str(spec[1]), missing)
        if variants and "" not in variants:
            variant_only |= variants
    variant = sorted(variant_only)[0] if variant_only else None
    known = {m.repo_id: m for m in KNOWN_MODELS}.get(model_id or "")
    return ModelEntry(
        id=model_id or str(folder),
        name=model_id or folder.name,
        kind=kind,
        source=source,
        path=str(folder),
        complete=not missing,
        size_bytes=folder_size(folder),
        missing=missing,
        variant=variant,
        licence=known.licence_note if known else None,
        gated=known.gated if known else False,
        downloadable=known is not None,
    )


def _cache_snapshot(repo_dir: Path) -> Path | None:
    """The snapshot ``refs/main`` points at, else the newest one that has a model index."""
    snapshots = repo_dir / "snapshots"
    ref = repo_dir / "refs" / "main"
    if ref.is_file():
        pointed = snapshots / ref.read_text().strip()
        if (pointed / MODEL_INDEX).is_file():
            return pointed
    candidates = [p for p in snapshots.glob("*") if (p / MODEL_INDEX).is_file()] if snapshots.is_dir() else []
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def _is_hub_cache(folder: Path) -> bool:
    return any(folder.glob("models--*"))


def scan_hub_cache(cache_dir: Path, problems: list[str]) -> list[ModelEntry]:
    """Models in a hub cache (``models--org--name/snapshots/<rev>/``), named by their hub id."""
    folders = []
    for repo_dir in sorted(cache_dir.glob("models--*")):
        snapshot = _cache_snapshot(repo_dir)
        if snapshot is not None:
            folders.append((snapshot, repo_dir.name.removeprefix("models--").replace("--", "/")))
    return _inspect_all(folders, "hf-cache", problems)


def scan_folder(folder: Path, problems: list[str]) -> list[ModelEntry]:
    """Models in a user folder: the folder itself, its children and grandchildren (``org/name``),
    or a hub cache layout (the folder, or its ``hub`` subfolder, holds ``models--*``)."""
    if not folder.is_dir():
        problems.append(f"The model folder {folder} does not exist; fix or remove it in the preferences.")
        return []
    for cache in (folder, folder / "hub"):
        if cache.is_dir() and _is_hub_cache(cache):
            return scan_hub_cache(cache, problems)
    if (folder / MODEL_INDEX).is_file():
        candidates = [folder]
    else:
        children = sorted(p for p in folder.iterdir() if p.is_dir())
        candidates = [c for c in children if (c / MODEL_INDEX).is_file()]
        candidates += [g for c in children if c not in candidates for g in sorted(c.iterdir()) if g.is_dir()]
    return _inspect_all([(candidate, None) for candidate in candidates], "folder", problems)


def _inspect_all(folders: list[tuple[Path, str | None]], source: str, problems: list[str]) -> list[ModelEntry]:
    """``inspect_model`` of each (folder, model id); a folder that cannot be read becomes a sentence in ``problems``."""
    entries = []
    for folder, model_id in folders:
        try:
            entry = inspect_model(folder, model_id=model_id, source=source)
        except EngineError as exc:
            problems.append(str(exc))
            continue
        if entry is not None:
            entries.append(entry)
    return entries


def procedural_entry() -> ModelEntry:
    return ModelEntry(id=PROCEDURAL_ID, name="Procedural (built in)", kind="procedural", source="builtin")


def discover(folders: list[Path], cache_dir: Path | None = None) -> ModelList:
    """The model list: the procedural prior, local models (hub cache first, then each folder),
    then the known models that are not on this machine."""
    cache = hub_cache_dir() if cache_dir is None else cache_dir
    problems: list[str] = []
    local = scan_hub_cache(cache, problems) if cache.is_dir() else []
    for folder in folders:
        local += scan_folder(Path(folder).expanduser(), problems)
    unique: dict[str, ModelEntry] = {}
    for entry in local:
        unique.setdefault(os.path.realpath(entry.path or entry.id), entry)
    found = list(unique.values())
    present_ids = {entry.id for entry in found}
    absent = [
        ModelEntry(
            id=known.repo_id,
            name=known.title,
            kind=known.kind,
            source="hub",
            present=False,
            complete=False,
            variant=known.variant,
            licence=known.licence_note,
            gated=known.gated,
            downloadable=True,
        )
        for known in KNOWN_MODELS
        if known.repo_id not in present_ids
    ]
    return ModelList(models=[procedural_entry(), *found, *absent], problems=problems, cache_dir=str(cache))
