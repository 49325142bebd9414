"""``python -m engine prior-vocabulary`` and ``prior-mesh`` run as the add-on runs them: real subprocesses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine import metrics, protocol
from engine.procedural.scene import Scene

pytestmark = pytest.mark.slow  # every test runs the real engine as a subprocess

ROOT = Path(__file__).resolve().parents[2]


def _engine(*args: str) -> tuple[int, list[dict]]:
    done = subprocess.run(
        [sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, [protocol.decode(line) for line in done.stdout.splitlines() if line.strip()]


def test_prior_vocabulary_prints_shapes_colors_and_relations():
    code, events = _engine("prior-vocabulary")
    assert code == 0
    (event,) = events
    assert event["event"] == protocol.RESULT
    assert len(event["shapes"]) >= 8 and len(event["colors"]) >= 8
    assert "on top of" in event["relations"] and "next to" in event["relations"]
    assert {"snowman", "mug", "chair"} <= set(event["fronted_shapes"])


def test_prior_mesh_writes_the_scene_in_engine_coordinates(tmp_path):
    out = tmp_path / "truth.glb"
    code, events = _engine("prior-mesh", "--prompt", "a white snowman next to a red cube", "--out", str(out))
    assert code == 0, events
    (event,) = events
    assert event["event"] == protocol.RESULT and Path(event["path"]) == out
    assert [o["shape"] for o in event["objects"]] == ["snowman", "cube"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truth.glb"]  # written atomically, nothing left over
    scene = Scene.from_prompt("a white snowman next to a red cube")
    result = metrics.compare(metrics.load_mesh(out), scene)
    assert result.iou > 0.95 and result.albedo_error < 0.02
    assert [check.ok for check in result.fronts] == [True]
    mesh = metrics.load_mesh(out)
    snowman_side = mesh.vertices[:, 0] < 0  # "next to" puts the snowman on the viewer's left (-X)
    assert mesh.colors[snowman_side, 0].mean() > 0.5 > mesh.colors[~snowman_side, 1].mean()


def test_prior_mesh_with_unknown_words_fails_clearly_and_writes_nothing(tmp_path):
    out = tmp_path / "truth.glb"
    code, events = _engine("prior-mesh", "--prompt", "a red cub", "--out", str(out))
    assert code == 2
    (event,) = events
    assert event["event"] == protocol.ERROR and event["kind"] == "prompt"
    assert "'cub' (closest: cube" in event["message"]
    assert not out.exists()
