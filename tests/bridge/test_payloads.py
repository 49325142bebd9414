"""What crosses the process boundary: the real ``doctor`` and ``models`` output parses into the payload dataclasses
with nothing lost, the add-on's lines are read from them, and a payload of the wrong shape is one PayloadError
that names the field."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from dreamfusion.bridge.doctor_summary import doctor_summary, offers_device_fallback
from dreamfusion.bridge.model_list import model_status
from dreamfusion.bridge.process_chain import SetupJob, SetupStep

from engine.payloads import (
    CudaReport,
    DoctorReport,
    GpuMemory,
    ModelList,
    PayloadError,
    parse_doctor,
    parse_models,
    parse_result,
    result_fields,
)
from tests.bridge.doctor_reports import doctor_report
from tests.bridge.test_engine_env import run_to_end

ROOT = Path(__file__).resolve().parents[2]
ENVELOPE = ("event", "protocol", "command")


def engine_result(*args: str) -> dict:
    """The ``result`` event of ``python -m engine ARGS`` run as a real process, with no hub cache."""
    process = subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "HF_HUB_CACHE": "/nonexistent-hub-cache"},
    )  # fmt: skip
    assert process.returncode == 0, process.stdout + process.stderr
    (event,) = [json.loads(line) for line in process.stdout.splitlines() if line.strip()]
    return event


def payload_of(event: dict) -> dict:
    return {key: value for key, value in event.items() if key not in ENVELOPE}


@pytest.mark.slow
def test_the_real_doctor_report_parses_whole_and_reads_as_the_panel_lines() -> None:
    event = engine_result("doctor", "--device", "cpu")
    report = parse_result(event)
    assert isinstance(report, DoctorReport)
    assert asdict(report) == payload_of(event), "every field the engine sent, nothing more"
    assert parse_doctor(json.loads(json.dumps(asdict(report)))) == report, "the copy the preferences keep reads back"
    assert (report.device_requested, report.device) == ("cpu", "cpu") and report.models[0].id == "procedural"

    lines = doctor_summary(report)
    diffusers = report.packages["diffusers"]
    assert lines[0] == f"Python {report.python} · engine {report.engine} · torch {report.torch} · diffusers {diffusers}"
    if report.cuda is not None and report.cuda.available:
        pytest.skip("the rest reads a CPU machine's report")
    assert lines[1] == "Device: cpu" and lines[2].startswith("Memory: ") and lines[2].endswith(" free")
    assert lines[3] == "Models: Procedural (built in)"
    assert not offers_device_fallback(report)


def test_the_real_model_list_parses_whole(tmp_path: Path) -> None:
    event = engine_result("models", "--folder", str(tmp_path / "gone"))
    found = parse_result(event)
    assert isinstance(found, ModelList) and asdict(found) == payload_of(event)
    assert found.problems == [
        f"The model folder {tmp_path / 'gone'} does not exist; fix or remove it in the preferences."
    ]
    assert [entry.id for entry in found.models] == [
        "procedural",
        "stabilityai/stable-diffusion-2-1-base",
        "DeepFloyd/IF-I-XL-v1.0",
    ]
    assert model_status(found.models[0]) == "Built in: no download, runs on any CPU"
    assert model_status(found.models[2]) == "Not on this machine; Download fetches it. " + found.models[2].licence


def test_a_doctor_report_says_the_device_gpu_memory_and_what_is_missing() -> None:
    gpu = GpuMemory(name="NVIDIA H200", total_bytes=150_000_000_000, free_bytes=140_000_000_000)
    on_gpu = doctor_report(device="cuda", device_auto="cuda", cuda=CudaReport(True, "12.8", [gpu]))
    assert doctor_summary(on_gpu)[1] == "Device: cuda (auto) · NVIDIA H200, 140.0 GB of 150.0 GB free"
    no_gpu = doctor_report(device=None, device_requested="cuda", torch=None, packages={"diffusers": None})
    lines = doctor_summary(no_gpu)
    assert lines[0].endswith("torch missing · diffusers missing")
    assert lines[1] == "Device: cuda is not available here (auto would use cpu)"
    assert lines[2] == "Memory: 9.5 GB of 16.0 GB free"
    assert offers_device_fallback(no_gpu)


def models_event() -> dict:
    return result_fields(doctor_report().model_list)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([1, 2], "a result of no known command (None)"),
        ({"command": "prior-vocabulary", "words": []}, "a result of no known command ('prior-vocabulary')"),
        ({"command": "models", "models": [], "problems": []}, "the models result is malformed: cache_dir is missing"),
        ({**models_event(), "problems": "none"}, "problems is 'none', not a list"),
        ({**models_event(), "models": [{"id": "x", "name": "x", "kind": "procedural"}]}, "models[0].source is missing"),
    ],
)
def test_a_malformed_result_is_one_error_that_names_the_field(event: object, message: str) -> None:
    with pytest.raises(PayloadError) as error:
        parse_result(event)
    assert str(error.value).endswith(message)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("memory",), None, "the doctor result is malformed: memory is None, not an object"),
        (("packages", "torch"), 2, "packages.torch is 2, not a string"),
        (("models", 0, "present"), "yes", "models[0].present is 'yes', not true or false"),
        (
            ("cuda", "devices"),
            [{"name": "GPU", "total_bytes": 1, "free_bytes": True}],
            "free_bytes is True, not an integer",
        ),
        (("ready",), None, "ready is None, not true or false"),
    ],
)
def test_a_malformed_doctor_field_is_named(path: tuple, value: object, message: str) -> None:
    event = result_fields(doctor_report())
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(PayloadError) as error:
        parse_result(event)
    assert str(error.value).endswith(message)


def test_fields_a_newer_engine_adds_are_ignored_and_defaults_fill_what_an_older_one_left_out() -> None:
    event = copy.deepcopy(result_fields(doctor_report()))
    event["models"][0]["weights_format"] = "gguf"
    event["thermal"] = {"gpu_c": 70}
    del event["mps"], event["cuda"]
    report = parse_result(event)
    assert report == doctor_report(mps=None, cuda=None)
    assert parse_models(payload_of(models_event())) == doctor_report().model_list


def test_a_set_up_step_that_prints_a_malformed_result_fails_its_job_with_the_reason(tmp_path: Path) -> None:
    """A real child process prints a ``models`` result without its cache folder: the job fails once it exits."""
    line = json.dumps({"event": "result", "protocol": 1, "command": "models", "models": [], "problems": []})
    step = SetupStep("Listing models", [sys.executable, "-c", f"print({line!r})"], tmp_path)
    state = run_to_end(SetupJob([step], tmp_path / "log"))
    assert state.status == "failed" and state.result is None
    assert state.error == "The engine's answer could not be read: the models result is malformed: cache_dir is missing."
