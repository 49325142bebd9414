"""The procedural prior's data: renders of a prompt's scene (or of many scenes) in every shading mode.

Cameras and lights are drawn as the engine draws its training cameras, from a fixed seed, so a
set is a pure function of (prompt, settings). Sets are cached on disk as safetensors keyed by a
hash of everything that changes their pixels, stored as 8-bit (a fresh build is quantised the
same way, so a cached set and a rebuilt one are identical).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..atomic_write import replacing
from ..cameras import Cameras, sample_cameras
from ..config import CameraConfig, ShadingConfig
from ..shading import ShadingMode
from ..stage_progress import Progress, no_progress
from .prompt import ObjectSpec, SceneSpec
from .raymarch import render
from .scene import Scene
from .shapes import SHAPES
from .vocabulary import COLORS, RELATIONS

IMAGE_SET_VERSION = 1  # bump when renders change for the same settings
MODES = tuple(ShadingMode)  # the order of the modes axis
_CHUNK = 64  # views rendered at once, to bound memory


@dataclass(frozen=True)
class ImageSetSettings:
    """Everything that changes the pixels of a set."""

    resolution: int
    views: int
    camera: CameraConfig
    shading: ShadingConfig
    supersample: int = 2
    seed: int = 0


@dataclass
class ImageSet:
    """Renders of ``views`` cameras in every mode; camera angles are the ones before jitter."""

    images: torch.Tensor  # (len(MODES), V, 3, H, W) float32 in [0, 1]
    azimuth: torch.Tensor  # (V,) degrees
    elevation: torch.Tensor  # (V,) degrees

    def of_mode(self, mode: ShadingMode) -> torch.Tensor:
        return self.images[MODES.index(mode)]


def build_image_set(scenes: list[Scene], settings: ImageSetSettings, progress: Progress = no_progress) -> ImageSet:
    """Render ``settings.views`` cameras, split evenly over ``scenes`` in order; each chunk of views rendered
    reports the fraction of views done (where a stop lands: ``engine/stage_progress.py``)."""
    generator = torch.Generator().manual_seed(settings.seed)
    cameras = sample_cameras(settings.camera, settings.views, generator)
    bounds = [round(i * settings.views / len(scenes)) for i in range(len(scenes) + 1)]
    chunks = []
    progress(0.0)
    for scene, start, stop in zip(scenes, bounds[:-1], bounds[1:], strict=True):
        for first in range(start, stop, _CHUNK):
            last = min(first + _CHUNK, stop)
            rendered = render(
                scene,
                _select(cameras, slice(first, last)),
                settings.resolution,
                MODES,
                settings.shading,
                settings.supersample,
            )
            chunks.append(torch.stack([rendered[mode] for mode in MODES]))
            progress(last / settings.views)
    images = torch.cat(chunks, dim=1)
    return ImageSet(_quantise(images), cameras.azimuth.clone(), cameras.elevation.clone())


def unconditional_scenes(count: int, seed: int) -> list[Scene]:
    """Random scenes of the whole vocabulary, half of them two-object compositions."""
    rng = random.Random(seed)
    shapes, colors, relations = list(SHAPES), list(COLORS), list(RELATIONS)
    specs = []
    for index in range(count):
        objects = tuple(ObjectSpec(rng.choice(shapes), rng.choice(colors)) for _ in range(1 + index % 2))
        specs.append(SceneSpec(objects, rng.choice(relations) if len(objects) == 2 else None))
    return [Scene(spec) for spec in specs]


def load_or_build(
    name: str, scenes: list[Scene], settings: ImageSetSettings, cache_dir: Path, progress: Progress = no_progress
) -> ImageSet:
    """The cached set for ``name`` (a canonical prompt) under these settings, building it on a miss. A build
    that is stopped (``progress`` raises) writes nothing: the cache holds whole sets only."""
    path = Path(cache_dir) / f"procedural-{cache_key(name, settings)}.safetensors"
    cached = _read(path, settings)
    if cached is not None:
        return cached
    image_set = build_image_set(scenes, settings, progress)
    _write(path, image_set, name)
    return image_set


def cache_key(name: str, settings: ImageSetSettings) -> str:
    payload = json.dumps({"version": IMAGE_SET_VERSION, "name": name, **asdict(settings)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _select(cameras: Cameras, index: slice) -> Cameras:
    return Cameras(*(getattr(cameras, f)[index] for f in cameras.__dataclass_fields__))


def _quantise(images: torch.Tensor) -> torch.Tensor:
    return _to_float(_to_bytes(images))


def _to_bytes(images: torch.Tensor) -> torch.Tensor:
    return (images.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)


def _to_float(images: torch.Tensor) -> torch.Tensor:
    return images.to(torch.float32) / 255.0


def _write(path: Path, image_set: ImageSet, name: str) -> None:
    """Atomically; a failed write only costs a rebuild next time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"images": _to_bytes(image_set.images), "azimuth": image_set.azimuth, "elevation": image_set.elevation}
    with replacing(path) as partial:
        save_file(tensors, str(partial), metadata={"name": name, "version": str(IMAGE_SET_VERSION)})


def _read(path: Path, settings: ImageSetSettings) -> ImageSet | None:
    """The cached set, or None when it is missing or unreadable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError):
        return None
    images = tensors.get("images")
    expected = (len(MODES), settings.views, 3, settings.resolution, settings.resolution)
    if images is None or tuple(images.shape) != expected or images.dtype != torch.uint8:
        return None
    return ImageSet(_to_float(images), tensors["azimuth"], tensors["elevation"])
