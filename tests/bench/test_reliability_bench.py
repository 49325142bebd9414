"""``bench reliability`` in miniature: one parent-death cycle and two bad inputs on real engine processes,
its results file and its report section (the full run is 60 cycles, five of each way in each phase, and the
whole matrix)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.reliability import MATRIX, run_reliability
from bench.report import build_report


@pytest.mark.slow
def test_a_tiny_reliability_run_is_measured_and_reported(tmp_path: Path) -> None:
    path = run_reliability(1, 6, tmp_path, ways=("parent-death",), matrix=("meta.json null", "--seed 2^64"))
    data = json.loads(path.read_text())
    (cycle,) = data["cycles"]
    assert cycle["way"] == "parent-death" and cycle["exit_code"] == 0 and cycle["resumed"]
    assert cycle["lost_steps"] == 0 and cycle["checkpoint_step"] >= cycle["reported_step"] >= 1  # a step in flight ends
    assert cycle["phase"] == "optimize"
    assert [(b["name"], b["exit_code"], b["kind"]) for b in data["matrix"]] == [
        ("meta.json null", 2, "checkpoint"),
        ("--seed 2^64", 2, "input"),
    ]
    assert data["summary"]["orphans"] == data["summary"]["internal_errors"] == data["summary"]["lost_runs"] == 0
    report = build_report(tmp_path, tmp_path / "REPORT.md").read_text()
    assert (
        "| optimize | parent-death | 1 | 0 | 0 | 0 | 0 | 0 |" in report
        and "| --seed 2^64 | 2 | input | no | no |" in report
    )


def test_every_bad_input_of_the_matrix_builds_its_command(tmp_path: Path) -> None:
    for name, build in MATRIX.items():
        args = build(tmp_path / str(len(name)) / name.replace(" ", "_").replace("/", "_"))
        assert args[0] in ("generate", "remesh", "batch") and all(isinstance(arg, str) for arg in args), name
