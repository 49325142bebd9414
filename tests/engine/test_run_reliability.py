"""Nothing is lost when the client dies, when a cancel comes late, or when two processes meet on one run
folder: real engine processes, tiny runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.test_generate import ROOT, SMALL, engine, events

# Four turntable frames in each mode: a signal sent at the last checkpoint lands before the last of them.
TURNTABLE = ("--set", "turntable_frames=4")

pytestmark = pytest.mark.slow  # every test runs the real engine as a subprocess


def start(  # type: ignore[no-untyped-def]
    out: Path, env: dict[str, str], steps: int, until: str, extra: tuple[str, ...] = (), **popen: object
):
    """A running tiny ``generate``, returned with the events read once one of kind ``until`` arrives (a
    progress event, or the checkpoint of the last step)."""
    args = ["generate", "--prompt", "a red cube", "--prior", "procedural", "--steps", str(steps), "--seed", "1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", *args, "--out", str(out), "--preview-every", "1000", *SMALL, *extra],
        cwd=ROOT,
        env=env,
        stdin=popen.pop("stdin", subprocess.DEVNULL),
        stdout=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[arg-type]
    )
    assert process.stdout
    seen = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == until and (until != "checkpoint" or seen[-1]["step"] == steps):
            return process, seen
    raise AssertionError(f"the engine ended before a {until} event: {seen}")


def logged(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_a_closed_stdout_stops_the_run_like_a_closed_stdin(tmp_path: Path, engine_env: dict[str, str]) -> None:
    """Blender died: both pipes closed. Here stdin is not a pipe, so only the dead stdout can tell."""
    out = tmp_path / "run"
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process, _ = start(out, engine_env, 500, "progress", stderr=stderr)
        assert process.stdout
        process.stdout.close()
        assert process.wait(timeout=60) == 0
    cancelled = logged(out)[-1]
    assert cancelled["event"] == "cancelled" and cancelled["step"] >= 1
    assert (out / "checkpoint" / "state.safetensors").is_file()
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()


def test_a_stop_after_optimization_is_honored_and_resume_only_exports(
    tmp_path: Path, engine_env: dict[str, str]
) -> None:
    out = tmp_path / "run"
    process, _ = start(out, engine_env, 6, "checkpoint", TURNTABLE)
    process.send_signal(signal.SIGTERM)  # during the turntable: the trained field is already on disk
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert events(rest)[-1]["event"] == "cancelled" and events(rest)[-1]["step"] == 6
    assert not (out / "mesh.npz").exists()

    remesh = engine(["remesh", str(out)], engine_env)
    assert remesh.returncode == 2 and f"generate --resume {out}" in events(remesh.stdout)[-1]["message"]

    resumed = engine(["generate", "--resume", str(out), "--device", "cpu"], engine_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    kinds = [line["event"] for line in events(resumed.stdout)]
    assert "progress" not in kinds and kinds[-1] == "done"
    assert (out / "mesh.npz").is_file()
    assert json.loads((out / "config.json").read_text())["device"] == "cpu"  # --device written back


def test_a_run_killed_during_its_export_can_be_exported_again(tmp_path: Path, engine_env: dict[str, str]) -> None:
    out = tmp_path / "run"
    process, _ = start(out, engine_env, 6, "checkpoint")
    process.kill()  # the add-on's escalation after its grace period
    process.communicate(timeout=60)
    resumed = engine(["generate", "--resume", str(out)], engine_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert events(resumed.stdout)[-1]["event"] == "done" and (out / "mesh.npz").is_file()


def test_a_second_process_on_a_run_folder_is_refused(tmp_path: Path, engine_env: dict[str, str]) -> None:
    out = tmp_path / "run"
    process, _ = start(out, engine_env, 500, "progress", stdin=subprocess.PIPE)
    try:
        for args in (["generate", "--resume", str(out)], ["remesh", str(out)]):
            second = engine(args, engine_env)
            error = events(second.stdout)[-1]
            assert second.returncode == 2 and error["kind"] == "busy", second.stdout + second.stderr
            assert "in use by another engine process" in error["message"]
    finally:
        assert process.stdin
        process.stdin.write("stop\n")
        process.stdin.flush()
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and events(rest)[-1]["event"] == "cancelled"
