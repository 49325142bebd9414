"""The whole method on the offline prior: SDS through the engine grows "a red cube" that matches the
ground truth clearly better than the density blob it starts from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.metrics import MeshComparison, compare, load_mesh
from engine.procedural.prompt import parse_prompt
from engine.procedural.scene import Scene

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "a red cube"


def generate(out: Path, steps: int) -> MeshComparison:
    command = [sys.executable, "-m", "engine", "generate", "--prompt", PROMPT, "--preset", "fast"]
    command += ["--steps", str(steps), "--seed", "0", "--out", str(out), "--set", "turntable_frames=1"]
    result = subprocess.run(
        command, cwd=ROOT, env=dict(os.environ), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return compare(load_mesh(out / "mesh.npz"), Scene(parse_prompt(PROMPT)))


@pytest.mark.slow
def test_sds_grows_the_prompted_shape_in_the_prompted_color(tmp_path: Path) -> None:
    blob = generate(tmp_path / "blob", steps=1)
    trained = generate(tmp_path / "trained", steps=300)
    assert trained.iou > blob.iou + 0.15, (blob, trained)
    assert trained.chamfer < 0.6 * blob.chamfer, (blob, trained)
    assert trained.albedo_error < 0.6 * blob.albedo_error, (blob, trained)
