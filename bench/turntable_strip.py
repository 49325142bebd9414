"""Turntable strips: a result's turntable frames above the ground truth's, colored and textureless.

The ground truth is rendered by the procedural prior's own ray marcher from the cameras the engine's
``write_turntable`` used (the run's saved config: preview orbit, frame count, shading, 128 px), so the
columns of the strip line up frame for frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from engine.atomic_write import replacing
from engine.cameras import orbit_cameras
from engine.config import RunConfig, from_dict, to_dict
from engine.config_migration import migrated
from engine.procedural.raymarch import render
from engine.procedural.scene import Scene
from engine.shading import ShadingMode
from engine.trainer import PREVIEW_RESOLUTION, save_png

MODES = (ShadingMode.COLORED, ShadingMode.TEXTURELESS)
TRUTH_FOLDER = "truth_turntable"
_LABEL_WIDTH = 120
_TITLE_HEIGHT = 24


def run_config(run_dir: Path) -> RunConfig:
    return from_dict(RunConfig, migrated(json.loads((run_dir / "config.json").read_text())))


def truth_key(scene: Scene, config: RunConfig) -> str:
    """Everything the ground-truth frames depend on: runs that share it share the frames."""
    return json.dumps([scene.spec.text, to_dict(config.camera), to_dict(config.shading), config.turntable_frames])


def truth_frames(scene: Scene, config: RunConfig) -> dict[ShadingMode, torch.Tensor]:
    """(frames, 3, H, W) per mode from the cameras of the engine's ``write_turntable`` for this config."""
    count = config.turntable_frames
    cameras = orbit_cameras(config.camera, [i * 360.0 / count for i in range(count)])
    return render(scene, cameras, PREVIEW_RESOLUTION, MODES, config.shading)


def write_truth_turntable(run_dir: Path, frames: dict[ShadingMode, torch.Tensor]) -> list[Path]:
    """Ground-truth frames ``truth_turntable/{mode}_NN.png`` beside the run's own ``turntable/``."""
    folder = run_dir / TRUTH_FOLDER
    folder.mkdir(exist_ok=True)
    return [
        save_png(frame, folder / f"{mode.value}_{index:02d}.png")
        for mode in MODES
        for index, frame in enumerate(frames[mode])
    ]


def compose_strip(run_dir: Path, out: Path, title: str) -> Path:
    """One PNG: rows result / truth for each mode, one column per turntable frame."""
    rows = []
    for mode in MODES:
        for label, folder in (("result", "turntable"), ("truth", TRUTH_FOLDER)):
            frames = sorted((run_dir / folder).glob(f"{mode.value}_*.png"))
            if not frames:
                raise FileNotFoundError(f"no {mode.value} frames in {run_dir / folder}")
            rows.append((f"{label}\n{mode.value}", [Image.open(f).convert("RGB") for f in frames]))
    size = rows[0][1][0].size
    columns = max(len(frames) for _, frames in rows)
    strip = Image.new("RGB", (_LABEL_WIDTH + columns * size[0], _TITLE_HEIGHT + len(rows) * size[1]), "white")
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default(size=14)
    draw.text((6, 4), title, fill="black", font=font)
    for row, (label, frames) in enumerate(rows):
        top = _TITLE_HEIGHT + row * size[1]
        draw.multiline_text((6, top + size[1] // 2 - 14), label, fill="black", font=font)
        for column, frame in enumerate(frames):
            strip.paste(frame, (_LABEL_WIDTH + column * size[0], top))
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as partial:
        strip.save(partial, format="PNG")
    return out
