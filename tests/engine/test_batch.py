"""``python -m engine batch`` end to end: real engine processes, a real local Ray runtime (2 CPUs here),
a killed worker, Ctrl-C, and a second run of the same command that continues instead of starting over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.batch.ledger import PromptStatus, read_ledger
from engine.mesh.file_format import read_npz

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
# Small runs: a 32x32 render, few prior views, a coarse mesh, no previews; a checkpoint every few steps, so a
# stop or a kill can land while a run has one and still has steps left.
TINY = [
    "--preset", "fast", "--set", "render.resolution=32", "--set", "guidance.procedural_text.views=16",
    "--set", "mesh.grid_resolution=32", "--set", "turntable_frames=1", "--set", "checkpoint_every=5",
    "--set", "preview_every=0",
]  # fmt: skip
STEPS = 30


def batch_command(prompts: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "engine", "batch", str(prompts), "--out", str(out), *TINY, *extra]


def run_batch(prompts: Path, out: Path, *extra: str) -> tuple[int, list[dict]]:
    result = subprocess.run(batch_command(prompts, out, *extra), cwd=ROOT, capture_output=True, text=True, timeout=600)
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def write_prompts(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def engine_pid(run_dir: Path) -> int | None:
    """The engine process writing ``run_dir``, found by its command line."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"engine" in command and str(run_dir).encode() in command:
                return int(entry.name)
    return None


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def wait_for(condition, timeout: float = 300.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_ray_batch_survives_a_killed_worker_fails_one_prompt_alone_and_a_rerun_starts_nothing(
    tmp_path: Path,
) -> None:
    prompts = write_prompts(
        tmp_path, ["a red cube", '{"prompt": "a flying banana"}', '{"prompt": "a blue sphere", "seed": 2}']
    )
    out = tmp_path / "batch"
    process = subprocess.Popen(
        batch_command(prompts, out, "--steps", str(STEPS), "--ray", "local"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    cube = out / "000-a-red-cube"
    wait_for(lambda: (cube / "checkpoint" / "meta.json").is_file())
    victim = engine_pid(cube)
    assert victim is not None
    os.kill(parent_pid(victim), signal.SIGKILL)  # the Ray worker running the cube's task
    stdout, _ = process.communicate(timeout=600)
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert process.returncode == 2 and events[-1]["event"] == "error" and events[-1]["kind"] == "batch"
    records = read_ledger(out)
    assert [r.status for r in records] == [PromptStatus.DONE, PromptStatus.FAILED, PromptStatus.DONE]
    assert "'flying'" in records[1].error and records[1].kind == "prompt" and not records[1].mesh
    assert "'flying'" in events[-1]["message"], "the batch's own error names the prompt that failed and why"
    for record in (records[0], records[2]):
        assert len(read_npz(out / record.mesh).faces) > 100
        assert record.executor == "ray" and record.machine == socket.gethostname() and record.seconds > 0
    started = [json.loads(line) for line in (cube / "log.jsonl").read_text().splitlines() if '"started"' in line]
    assert [e["resumed"] for e in started] == [False, True], "Ray retried the task and it resumed the checkpoint"
    meshes = {r.index: (out / r.mesh).stat().st_mtime_ns for r in records if r.mesh}

    code, events = run_batch(prompts, out, "--steps", str(STEPS), "--ray", "local")
    assert code == 2
    assert not [e for e in events if e["event"] == "batch" and e["status"] == "running"]
    assert [(r.status, r.attempts) for r in read_ledger(out)] == [(r.status, r.attempts) for r in records]
    assert {r.index: (out / r.mesh).stat().st_mtime_ns for r in records if r.mesh} == meshes


def test_ctrl_c_stops_the_running_prompt_with_a_checkpoint_and_a_rerun_finishes_the_rest(tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path, ["a red cube", "a green cone"])
    out = tmp_path / "batch"
    process = subprocess.Popen(
        batch_command(prompts, out, "--steps", str(STEPS)),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    cube = out / "000-a-red-cube"
    wait_for(lambda: (cube / "checkpoint" / "meta.json").is_file())
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    assert json.loads(stdout.splitlines()[-1])["event"] == "cancelled"
    records = read_ledger(out)
    assert [r.status for r in records] == [PromptStatus.CANCELLED, PromptStatus.PENDING]
    assert records[0].step > 0 and not (out / "001-a-green-cone").exists()

    code, _ = run_batch(prompts, out, "--steps", str(STEPS))
    assert code == 0
    records = read_ledger(out)
    assert [r.status for r in records] == [PromptStatus.DONE, PromptStatus.DONE]
    started = [json.loads(line) for line in (cube / "log.jsonl").read_text().splitlines() if '"started"' in line]
    assert [e["resumed"] for e in started] == [False, True]


def start_ray_batch(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, int]:
    """A one-prompt ``batch --ray local`` of many steps, once it has reported step 2: (process, folder, step)."""
    prompts = write_prompts(tmp_path, ["a red cube"])
    out = tmp_path / "batch"
    process = subprocess.Popen(
        batch_command(prompts, out, "--steps", "2000", "--ray", "local"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "batch" and (event.get("step") or 0) >= 2:
            return process, out, event["step"]
    raise AssertionError("the batch ended before its prompt reported a step")


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(parent_pid(int(entry.name)), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_stops_a_ray_batch_with_a_checkpoint_and_the_ledger_says_so(tmp_path: Path) -> None:
    """ray.init puts its own SIGTERM handler in place of the engine's; the batch takes it back."""
    process, out, reported = start_ray_batch(tmp_path)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 0 and json.loads(stdout.splitlines()[-1])["event"] == "cancelled"
    record = read_ledger(out)[0]
    saved = json.loads((out / record.run_dir / "checkpoint" / "meta.json").read_text())["step"]
    assert record.status is PromptStatus.CANCELLED and saved == record.step >= reported, "no step lost to SIGTERM"


def test_a_killed_ray_driver_leaves_no_ray_process_running(tmp_path: Path) -> None:
    """Ray ends its head with the driver, its agents only 60 s later; the reaper ends them at once."""
    process, out, _ = start_ray_batch(tmp_path)
    tree = descendants(process.pid)
    assert len(tree) > 3, "the Ray head, its agents, the task's worker and the engine"
    process.kill()
    process.wait()
    killed = time.monotonic()
    wait_for(lambda: not [pid for pid in tree if running(pid)], timeout=20)  # Ray alone: 60 s and more
    print(f"every process of the killed driver's Ray gone {time.monotonic() - killed:.1f} s after the kill")
    assert (out / read_ledger(out)[0].run_dir / "config.json").is_file(), "a run the next batch resumes, as a kill"
