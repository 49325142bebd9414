"""``python -m engine doctor`` as a real process: on this CPU machine, with a GPU-only setting, and in a Python
that has none of the engine's packages."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def doctor(python: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """The doctor's single result event; it exits 0 whatever it finds."""
    process = subprocess.run(
        [python, "-m", "engine", "doctor", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_CACHE": "/nonexistent-hub-cache", **(env or {})},
    )
    assert process.returncode == 0, process.stdout + process.stderr
    events = [json.loads(line) for line in process.stdout.splitlines() if line.strip()]
    assert [e["event"] for e in events] == ["result"], process.stdout
    assert events[0]["command"] == "doctor" and events[0]["protocol"] == 1
    return events[0]


@pytest.mark.slow  # the doctor imports torch in a real process: 10 s or more
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only answers")
def test_doctor_on_cpu_reports_versions_device_memory_and_models() -> None:
    report = doctor(sys.executable)
    assert report["ready"] is True and report["problems"] == []
    assert (report["device_requested"], report["device"], report["device_auto"]) == ("auto", "cpu", "cpu")
    assert report["cuda"] == {"available": False, "version": torch.version.cuda, "devices": []}
    assert report["torch"] == torch.__version__
    assert report["python"] == ".".join(map(str, sys.version_info[:3]))
    for dist in ("diffusers", "transformers", "trimesh", "PyMCubes", "xatlas"):
        assert report["packages"][dist] == importlib.metadata.version(dist)
    memory = report["memory"]
    assert 0 < memory["available_bytes"] <= memory["total_bytes"]
    assert report["models"][0]["id"] == "procedural"  # always listed, even with no models anywhere
    assert report["cache_dir"] == "/nonexistent-hub-cache"
    needs = {need["prior"]: need for need in report["memory_needs"]}
    assert set(needs) == {"stable-diffusion", "deepfloyd-if"}
    assert all(need["dtype"] == "float32" and need["free_bytes"] is None for need in needs.values()), "CPU: fp32"
    assert needs["deepfloyd-if"]["low_memory_weights_bytes"] < needs["deepfloyd-if"]["weights_bytes"]


@pytest.mark.slow  # the doctor imports torch in a real process: 10 s or more
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_setting_without_a_gpu_is_one_sentence_with_a_way_out() -> None:
    report = doctor(sys.executable, "--device", "cuda")
    assert report["ready"] is False and report["device"] is None and report["device_auto"] == "cpu"
    assert len(report["problems"]) == 1
    sentence = report["problems"][0]
    assert sentence.startswith("CUDA was requested but") and "'cpu'" in sentence and sentence.endswith(".")


def test_a_python_without_the_engine_packages_gets_a_report_not_a_crash(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    python = str(bare / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    report = doctor(python, "--device", "cuda")
    assert report["ready"] is False and report["torch"] is None and report["device"] is None
    assert report["problems"] == [
        "This Python lacks torch, numpy, diffusers, transformers, accelerate, safetensors, tokenizers, trimesh, "
        "PyMCubes, xatlas, scipy, pillow; click Repair Engine in the add-on preferences "
        "(or pip install them into this Python)."
    ]
    assert report["models"][0]["id"] == "procedural"
