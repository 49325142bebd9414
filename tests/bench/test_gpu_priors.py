"""The architecture tables build the published networks, and the timing harness runs on their tiny versions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.architectures import FULL_SIZE, TINY, build_prior
from bench.report import build_report
from bench.results_file import GPU, read_results

ROOT = Path(__file__).resolve().parents[2]
UNITS = {"M": 1e6, "B": 1e9}


@pytest.mark.parametrize("architecture", FULL_SIZE, ids=lambda a: a.name)
def test_full_size_tables_have_the_published_parameter_counts(architecture) -> None:
    """Built on the meta device (no memory, no weights): each network's size is the publisher's, to its digits."""
    built = build_prior(architecture, torch.device("meta"), torch.float16)
    published = re.findall(r"(\w+) ([\d.]+) ([MB])", architecture.published_parameters)
    assert [name.lower() for name, _, _ in published] == list(built.parameters)
    for name, figure, unit in published:
        digits = len(figure.partition(".")[2])
        assert f"{built.parameters[name.lower()] / UNITS[unit]:.{digits}f}" == figure, name
    assert built.prior.name == architecture.prior


@pytest.mark.slow
def test_the_tiny_run_writes_gpu_results_the_report_shows(tmp_path: Path) -> None:
    out = tmp_path / GPU.name
    arguments = ["--tiny", "--steps", "1", "--warmup", "0", "--out", str(out)]
    command = [sys.executable, "-m", "bench.gpu_priors", *arguments]
    result = subprocess.run(command, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    gpu = read_results(out, GPU.kind)
    assert gpu is not None and gpu.envelope.command.endswith(" ".join(["-m", "bench.gpu_priors", *arguments]))
    rows = gpu.payload["results"]
    assert [r["architecture"] for r in rows] == [a.name for a in TINY]
    assert all(r["it_per_s"] > 0 and r["steps"] == 1 and r["parameters"]["unet"] > 0 for r in rows)
    report = build_report(tmp_path, tmp_path / "REPORT.md").read_text()
    assert f"| {rows[0]['prior']} | {TINY[0].name} | float32 | 1 |" in report
