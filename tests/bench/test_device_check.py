"""bench/device_check.sh on its CPU path (tiny networks: the same save, ``--model`` load and ``generate`` code as on a
GPU), and the report's GPU section rendered from its JSON with its targets (bench/targets.py) beside each number."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.device_check import CASES, case_result
from bench.engine_run import RunRecord
from bench.report import build_report
from bench.results_file import DEVICE_CHECK, Envelope, Results, read_results, write_results

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a real engine process on a saved random-weight checkpoint, and the GPU tests' collection
def test_the_device_check_runs_end_to_end_on_the_cpu(tmp_path: Path) -> None:
    results = tmp_path / "device_check.json"
    env = {**os.environ, "PYTHON": sys.executable, "WHEELS": str(tmp_path / "no-wheels"), "RESULTS_FILE": str(results)}
    env.pop("OUT", None)
    arguments = ["--device", "cpu", "--tiny", "--cases", "sd-low-memory", "--work", str(tmp_path / "work")]
    process = subprocess.run(
        ["bash", "bench/device_check.sh", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    assert "skipped" in process.stdout, "the GPU tests ran (and skipped without CUDA)"
    check = read_results(results, DEVICE_CHECK.kind)
    assert check is not None and check.payload["tiny"] is True and check.payload["device"] == "cpu"
    (row,) = check.payload["results"]
    assert (row["case"], row["low_memory"], row["steps"], row["error"]) == ("sd-low-memory", True, 3, None)
    assert row["it_per_s"] > 0 and row["peak_memory_bytes"] == row["process_peak_bytes"] > 100e6
    assert set(row["phase_share"]) == {"render", "prior", "update"}
    assert sum(row["phase_share"].values()) == pytest.approx(1.0, abs=0.01)
    assert row["meets_target"] is None, "tiny networks on a CPU are not judged against the GPU targets"
    model = tmp_path / "work" / "stable-diffusion"
    assert (model / "model_index.json").is_file() and (model / "unet" / "config.json").is_file()
    config = json.loads((tmp_path / "work" / "runs" / "sd-low-memory" / "config.json").read_text())
    assert config["guidance"]["model"] == str(model) and config["guidance"]["low_memory"] is True


def record(it_per_s: float, peak: int, error: str | None = None) -> RunRecord:
    return RunRecord(
        prompt="a red cube", run_dir="/runs/x", exit_code=0 if error is None else 2, error=error, steps=300,
        wall_s=40.0, peak_rss_mib=900.0, it_per_s=it_per_s, startup_s=2.0, prior_s=9.5, optimize_s=20.0,
        finish_s=5.0, mesh=None if error else "/runs/x/mesh.npz", faces=1000,
        phase_s={"render": 3.0, "prior": 9.0, "update": 6.0},
        peak_memory={"device": "cuda", "allocated_bytes": peak - 10**9, "reserved_bytes": peak,
                     "process_bytes": 5 * 10**9},
    )  # fmt: skip


def test_the_gpu_section_shows_each_case_beside_its_target(tmp_path: Path) -> None:
    cases = {case.name: case for case in CASES}
    rows = [
        case_result(cases["sd"], "stable-diffusion-2-1-base", record(16.6, 7_400_000_000), judged=True),
        case_result(cases["sd-low-memory"], "stable-diffusion-2-1-base", record(12.0, 6_500_000_000), judged=True),
        case_result(cases["if"], "IF-I-XL-v1.0", record(0.0, 0, error="the run ran out of CUDA memory"), judged=True),
    ]
    payload = {"label": "random weights, throughput only", "tiny": False, "device": "NVIDIA H200", "dtype": "float16"}
    payload |= {"notes": ["a note"], "results": [vars(row) for row in rows]}
    write_results(tmp_path / DEVICE_CHECK.name, Results(Envelope.now(DEVICE_CHECK.kind, command="test"), payload))
    report = build_report(tmp_path, tmp_path / "REPORT.md").read_text()
    section = report.split("## GPU: generate end to end (random weights, throughput only)", 1)[1].split("\n## ", 1)[0]
    assert "random weights, throughput only: `generate` through the CLI on NVIDIA H200 (float16)" in section
    lines = {line.split(" | ")[0].strip("| "): line for line in section.splitlines() if line.startswith("| ")}
    assert re.search(r"\| 16\.60 \| 10\.0 ms \(17%\) / 30\.0 ms \(50%\) / 20\.0 ms \(33%\) \| 7\.40 \|", lines["sd"])
    assert lines["sd"].endswith("| >= 15 it/s, peak <= 8 GB | met |")
    assert lines["sd-low-memory"].endswith("| 6.50 | peak <= 6 GB | **missed** |"), "6.5 GB is over 6 GB"
    assert lines["if"].endswith("| failed: the run ran out of CUDA memory |")
    assert "- a note" in section


def test_without_a_device_the_section_says_not_run(tmp_path: Path) -> None:
    report = build_report(tmp_path, tmp_path / "REPORT.md").read_text()
    section = report.split("## GPU: generate end to end", 1)[1].split("\n## ", 1)[0]
    assert "Not run: no device lent yet (no `device_check.json`)" in section and "bench/device_check.sh" in section
