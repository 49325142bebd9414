"""``python -m engine remesh`` as a real subprocess: protocol events, exit codes, rewritten files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import protocol
from engine.config import MeshConfig
from engine.mesh.file_format import read_npz
from engine.mesh.pipeline import export_run

pytestmark = pytest.mark.slow  # every test runs the real engine as a subprocess

ROOT = Path(__file__).resolve().parents[2]


def remesh(*args: str) -> tuple[int, list[dict]]:
    process = subprocess.run(
        [sys.executable, "-m", "engine", "remesh", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    return process.returncode, [protocol.decode(line) for line in process.stdout.splitlines()]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")

    def density(points: np.ndarray) -> np.ndarray:
        return np.clip(20.0 * (1.0 - np.linalg.norm(points, axis=1) / 0.8), 0.0, None).astype(np.float32)

    export_run(density, lambda p: np.full_like(p, 0.5), MeshConfig(grid_resolution=48), 1.0, folder)
    return folder


def test_remesh_emits_stages_and_done_and_rewrites_the_mesh(run_dir: Path) -> None:
    code, events = remesh(str(run_dir), "--threshold", "10", "--formats", "npz", "glb")
    assert code == 0, events
    stages = [event for event in events if event["event"] == "stage"]
    assert list(dict.fromkeys(event["name"] for event in stages)) == ["mesh", "bake", "export"]
    for name in ("mesh", "bake", "export"):  # a bar per stage, as generate's: from its start to its end
        fractions = [event["fraction"] for event in stages if event["name"] == name]
        assert fractions[-1] == 1.0 and fractions == sorted(fractions), (name, fractions)
    done = events[-1]
    assert done["event"] == "done"
    assert done["run_dir"] == str(run_dir.resolve()) and done["threshold"] == 10.0
    assert done["mesh"] == str(run_dir / "mesh.npz") and done["glb"] == str(run_dir / "mesh.glb")
    mesh = read_npz(Path(done["mesh"]))
    assert (done["vertices"], done["faces"]) == (len(mesh.vertices), len(mesh.faces))
    assert np.linalg.norm(mesh.vertices, axis=1).mean() == pytest.approx(0.4, abs=0.01)  # 0.8 (1 - 10 / 20)
    assert done["elapsed_s"] >= 0


def test_remesh_errors_are_protocol_errors_with_exit_code_2(run_dir: Path, tmp_path: Path) -> None:
    code, events = remesh(str(run_dir), "--threshold", "1000")
    assert code == 2 and events[-1]["event"] == "error" and events[-1]["kind"] == "mesh"
    assert "try a threshold of" in events[-1]["message"]
    code, events = remesh(str(tmp_path))
    assert code == 2 and events[-1]["kind"] == "mesh" and "density_grid.npz" in events[-1]["message"]
    code, events = remesh(str(run_dir), "--bake", "ptex")
    assert code == 2 and events[-1]["kind"] == "input"
