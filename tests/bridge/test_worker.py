"""EngineWorker against a real subprocess (the fake engine): events, log lines, exit, and every way of stopping."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from dreamfusion.bridge.worker import (
    EngineWorker,
    EventMessage,
    ExitMessage,
    LogMessage,
    StopTimeouts,
    WorkerStartError,
)

from tests.fixtures import fake_engine

FAKE = str(Path(fake_engine.__file__).resolve())
QUICK = StopTimeouts(polite_s=0.5, terminate_s=0.5)


def fake_command(tmp_path: Path, *fake_flags: str, prompt: str = "a red cube", steps: int = 4) -> list[str]:
    return [
        sys.executable, FAKE, *fake_flags, "-m", "engine", "generate",
        "--prompt", prompt, "--steps", str(steps), "--preview-every", "2", "--out", str(tmp_path / "run"),
    ]  # fmt: skip


def collect(worker: EngineWorker, timeout: float = 20.0) -> list:
    """All messages until the exit message, driving the stop escalation like the UI timer."""
    messages: list = []
    deadline = time.monotonic() + timeout
    while not messages or not isinstance(messages[-1], ExitMessage):
        assert time.monotonic() < deadline, f"no exit within {timeout} s: {messages[-3:]}"
        worker.escalate()
        messages.extend(worker.drain())
        time.sleep(0.01)
    return messages


def events(messages: list) -> list[dict]:
    return [message.event for message in messages if isinstance(message, EventMessage)]


def wait_for(worker: EngineWorker, name: str, timeout: float = 10.0) -> list:
    """Messages up to and including the first ``name`` event (the fake has set up its signals by then)."""
    messages: list = []
    deadline = time.monotonic() + timeout
    while not any(isinstance(m, EventMessage) and m.event["event"] == name for m in messages):
        assert time.monotonic() < deadline, f"no {name} event within {timeout} s"
        messages.extend(worker.drain())
        time.sleep(0.01)
    return messages


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_run_streams_events_in_order_and_ends_with_its_exit(tmp_path: Path) -> None:
    worker = EngineWorker(fake_command(tmp_path), cwd=tmp_path, log_path=tmp_path / "run" / "worker.log")
    worker.start()
    messages = collect(worker)
    names = [event["event"] for event in events(messages)]
    assert names[0] == "started" and names[-1] == "done"
    assert names.count("progress") == 4 and names.count("preview") == 2
    assert messages[-1] == ExitMessage(0)
    assert sum(isinstance(message, ExitMessage) for message in messages) == 1
    assert worker.forced is None and not worker.running
    assert_gone(worker.pid)
    log = (tmp_path / "run" / "worker.log").read_text()
    assert log.count('"event": "progress"') == 4


def test_arguments_reach_the_engine_verbatim_without_a_shell(tmp_path: Path) -> None:
    prompt = "a \"cube\"; rm -rf ~ $(touch pwned) `id` | cat > x & 'quoted' * ?"
    worker = EngineWorker(fake_command(tmp_path, prompt=prompt, steps=1), cwd=tmp_path)
    worker.start()
    started = events(collect(worker))[0]
    assert started["prompt"] == prompt
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "x").exists()


def test_non_protocol_lines_become_log_messages(tmp_path: Path) -> None:
    worker = EngineWorker(fake_command(tmp_path, "--behaviour", "crash", "--crash-at", "2"), cwd=tmp_path)
    worker.start()
    messages = collect(worker)
    lines = [message.line for message in messages if isinstance(message, LogMessage)]
    assert "fake engine: loading weights" in lines
    assert any("RuntimeError: fake crash: CUDA out of memory" in line for line in lines)
    assert messages[-1] == ExitMessage(1)


def test_a_polite_stop_is_enough_for_a_well_behaved_engine(tmp_path: Path) -> None:
    """With the add-on's own grace period (3 s): QUICK's 0.5 s is shorter than a loaded machine takes to exit."""
    worker = EngineWorker(fake_command(tmp_path, "--step-seconds", "0.05", steps=1000), cwd=tmp_path)
    worker.start()
    wait_for(worker, "progress")
    worker.request_stop()
    messages = collect(worker)
    assert events(messages)[-1]["event"] == "cancelled"
    assert messages[-1] == ExitMessage(0) and worker.forced is None
    assert_gone(worker.pid)


@pytest.mark.parametrize(
    ("behaviour", "returncode", "forced"), [("hang", -15, "terminated"), ("hang-hard", -9, "killed")]
)
def test_an_engine_that_ignores_stop_gets_sigterm_and_one_that_ignores_sigterm_is_killed(
    tmp_path: Path, behaviour: str, returncode: int, forced: str
) -> None:
    worker = EngineWorker(fake_command(tmp_path, "--behaviour", behaviour), cwd=tmp_path, timeouts=QUICK)
    worker.start()
    wait_for(worker, "started")
    worker.request_stop()
    messages = collect(worker)
    assert messages[-1] == ExitMessage(returncode) and worker.forced == forced
    assert_gone(worker.pid)


def test_shutdown_blocks_until_the_process_is_reaped(tmp_path: Path) -> None:
    worker = EngineWorker(fake_command(tmp_path, "--behaviour", "hang-hard"), cwd=tmp_path, timeouts=QUICK)
    worker.start()
    wait_for(worker, "started")
    started = time.monotonic()
    worker.shutdown()
    assert time.monotonic() - started < QUICK.polite_s + QUICK.terminate_s + 2.0
    assert not worker.running
    assert_gone(worker.pid)


def test_a_missing_python_is_a_start_error_that_names_the_preference(tmp_path: Path) -> None:
    worker = EngineWorker([str(tmp_path / "no-such-python"), "-m", "engine"], cwd=tmp_path)
    with pytest.raises(WorkerStartError, match="Engine Python"):
        worker.start()
