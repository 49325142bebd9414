"""``bench full-size`` on tiny widths: the same build, ``generate --model`` through the real CLI, export and JSON as
the full-size run (bench/results/full_size.json), in seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.results_file import FULL_SIZE, read_results

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # builds and saves a tiny random-weight model, then a real engine process to a mesh
def test_full_size_runs_a_learned_prior_to_an_exported_mesh_and_writes_its_cost(tmp_path: Path) -> None:
    out, work = tmp_path / "full_size.json", tmp_path / "work"
    command = [sys.executable, "-m", "bench", "full-size", "--tiny", "--out", str(out), "--work", str(work)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = read_results(out, FULL_SIZE.kind)
    assert results is not None and results.payload["tiny"] is True
    sd = results.payload["stable_diffusion"]
    assert (sd["steps"], sd["error"], sd["mesh"]) == (2, None, True)
    assert set(sd["split_s_per_step"]) == {"render", "prior", "update"}
    assert sd["seconds_per_step"] == pytest.approx(sum(sd["split_s_per_step"].values()), abs=0.02)
    assert sd["peak_rss_bytes"] > 100e6 and sd["faces"] > 0
    deepfloyd = results.payload["deepfloyd_if"]
    assert deepfloyd["run"] is False and deepfloyd["weights_bytes"] > 36e9
    assert deepfloyd["fits"] == (deepfloyd["weights_bytes"] < deepfloyd["machine_memory_bytes"])
    events = [json.loads(line) for line in (work / "run" / "log.jsonl").read_text().splitlines()]
    (warning,) = [event for event in events if event["event"] == "warning"]
    assert warning["kind"] == "cpu_cost" and warning["steps"] == 1  # after the first of 2 steps
