"""``python -m engine generate`` as a real subprocess: protocol, files, determinism, cancel and resume,
and the errors a user can meet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # every test runs the real engine as a subprocess

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--preset", "fast", "--set", "mesh.grid_resolution=48", "--set", "turntable_frames=2"]
SMALL += ["--set", "render.resolution=32", "--set", "render.samples_per_ray=32"]  # a light step: these test the process


def engine(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,  # type: ignore[arg-type]
    )


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def generate(out: Path, env: dict[str, str], steps: int = 12, seed: int = 1, extra: list[str] | None = None):  # type: ignore[no-untyped-def]
    args = ["generate", "--prompt", "a red cube", "--prior", "procedural", "--steps", str(steps), "--seed", str(seed)]
    return engine([*args, "--out", str(out), "--preview-every", "5", *SMALL, *(extra or [])], env)


def start(out: Path, env: dict[str, str], steps: int, stdin: int, until_step: int = 1) -> subprocess.Popen[str]:
    """A running ``generate`` of "a red cube", returned once it has reported ``until_step``."""
    args = ["generate", "--prompt", "a red cube", "--prior", "procedural", "--steps", str(steps), "--seed", "1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", *args, "--out", str(out), "--preview-every", "5", *SMALL],
        cwd=ROOT,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "progress" and event["step"] >= until_step:
            break
    return process


def stop(process: subprocess.Popen[str]) -> list[dict]:
    """Ask politely on stdin; the events printed after that."""
    assert process.stdin
    process.stdin.write("stop\n")
    process.stdin.flush()
    rest, _ = process.communicate(timeout=30)  # a hang fails here; the latency itself is benchmarked
    return events(rest)


@pytest.fixture(scope="session")
def first_run(tmp_path_factory: pytest.TempPathFactory, engine_env: dict[str, str]) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("runs") / "first"
    result = generate(out, engine_env)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, events(result.stdout)


def test_every_line_is_a_protocol_event(first_run) -> None:  # type: ignore[no-untyped-def]
    _, lines = first_run
    assert all(line["protocol"] == 1 and "event" in line for line in lines)
    kinds = [line["event"] for line in lines]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert {"stage", "progress", "preview"} <= set(kinds)
    progress = [line for line in lines if line["event"] == "progress"]
    assert progress[-1]["step"] == progress[-1]["total"] == 12
    assert all({"loss", "it_per_s", "eta_s"} <= set(p) for p in progress)
    assert all(np.isfinite(p["loss"]) for p in progress)
    # Each loss term on its own, weighted; they add up to the loss.
    assert all(
        list(p["losses"]) == ["sds", "orientation", "opacity", "smoothness", "eikonal", "curvature"] for p in progress
    )
    assert all(sum(p["losses"].values()) == pytest.approx(p["loss"], rel=1e-6, abs=1e-5) for p in progress)
    assert all(p["losses"]["sds"] > 0 and p["losses"]["opacity"] > 0 for p in progress)


def test_each_run_reports_its_peak_memory_and_where_its_steps_went(first_run) -> None:  # type: ignore[no-untyped-def]
    _, lines = first_run
    progress = [line for line in lines if line["event"] == "progress"]
    done = lines[-1]
    peak = done["peak_memory"]
    assert peak["device"] == "cpu" and peak["allocated_bytes"] is None
    assert 100e6 < peak["process_bytes"] < 8e9, "the engine's RAM peak: torch alone is over 100 MB"
    assert all(0 < p["peak_memory_bytes"] <= peak["process_bytes"] for p in progress), "a peak only grows"
    assert set(done["phase_s"]) == {"render", "prior", "update"} and all(s > 0 for s in done["phase_s"].values())
    totals = [sum(p["phase_s"].values()) for p in progress]
    assert totals == sorted(totals) and sum(done["phase_s"].values()) == pytest.approx(totals[-1], abs=2e-3)


def test_run_folder_holds_the_promised_files(first_run) -> None:  # type: ignore[no-untyped-def]
    out, lines = first_run
    done = lines[-1]
    assert Path(done["mesh"]).is_file() and Path(done["glb"]).is_file()
    assert (out / "config.json").is_file() and (out / "log.jsonl").is_file()
    previews = [Path(line["path"]) for line in lines if line["event"] == "preview"]
    assert previews and all(p.is_file() and p.parent == out / "previews" for p in previews)
    assert sorted(p.name for p in (out / "turntable").iterdir())[0] == "colored_00.png"
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in logged] == [e["event"] for e in lines]


def test_same_seed_same_result_bit_for_bit(first_run, tmp_path: Path, engine_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    out, _ = first_run
    again = generate(tmp_path / "again", engine_env)
    assert again.returncode == 0, again.stderr
    a, b = np.load(out / "mesh.npz"), np.load(tmp_path / "again" / "mesh.npz")
    assert np.array_equal(a["vertices"], b["vertices"]) and np.array_equal(a["colors"], b["colors"])
    other = generate(tmp_path / "other", engine_env, seed=2)
    assert other.returncode == 0, other.stderr
    c = np.load(tmp_path / "other" / "mesh.npz")
    assert a["vertices"].shape != c["vertices"].shape or not np.array_equal(a["vertices"], c["vertices"])


def test_stop_checkpoints_and_resume_ends_identical(tmp_path: Path, engine_env: dict[str, str]) -> None:
    steps = 40
    reference = generate(tmp_path / "straight", engine_env, steps=steps, extra=["--checkpoint-every", "1000"])
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "interrupted"
    process = start(out, engine_env, steps, subprocess.PIPE, until_step=5)
    cancelled = stop(process)[-1]
    assert process.returncode == 0
    assert cancelled["event"] == "cancelled" and 5 <= cancelled["step"] < steps
    assert (out / "checkpoint" / "state.safetensors").is_file()

    resumed = engine(["generate", "--resume", str(out)], engine_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    a, b = np.load(tmp_path / "straight" / "mesh.npz"), np.load(out / "mesh.npz")
    assert np.array_equal(a["vertices"], b["vertices"]) and np.array_equal(a["colors"], b["colors"])


def test_sigterm_cancels_cleanly(tmp_path: Path, engine_env: dict[str, str]) -> None:
    process = start(tmp_path / "run", engine_env, 500, subprocess.DEVNULL)
    process.terminate()
    rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert events(rest)[-1]["event"] == "cancelled"


def test_a_closed_parent_pipe_stops_the_engine(tmp_path: Path, engine_env: dict[str, str]) -> None:
    """The parent (Blender) died: its end of the stdin pipe closes, and no orphan engine runs on."""
    process = start(tmp_path / "run", engine_env, 500, subprocess.PIPE)
    assert process.stdin and process.stdout
    process.stdin.close()
    rest = process.stdout.read()
    assert process.wait(timeout=30) == 0
    assert events(rest)[-1]["event"] == "cancelled"


@pytest.mark.parametrize(
    ("args", "kind", "words"),
    [
        (["--prompt", "  "], "input", "prompt is empty"),
        (["--prompt", "x" * 400], "input", "characters long"),
        (["--prompt", "a red cube", "--prior", "dall-e"], "input", "guidance.prior must be one of procedural"),
        (["--prompt", "a red cube", "--set", "optim.nope=1"], "input", "unknown setting"),
    ],
)
def test_bad_input_is_one_clear_error(args, kind, words, tmp_path: Path, engine_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    result = engine(["generate", *args, "--out", str(tmp_path / "run")], engine_env)
    assert result.returncode == 2
    (line,) = events(result.stdout)[-1:]
    assert line["event"] == "error" and line["kind"] == kind and words in line["message"]
    assert "Traceback" not in result.stderr


def test_an_earlier_run_is_never_overwritten(first_run, engine_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    out, _ = first_run
    before = (out / "mesh.npz").read_bytes()
    result = generate(out, engine_env)
    assert result.returncode == 2
    assert "already holds a run" in events(result.stdout)[-1]["message"]
    assert (out / "mesh.npz").read_bytes() == before


def test_unwritable_output_folder(tmp_path: Path, engine_env: dict[str, str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = generate(blocker / "run", engine_env)
    error = events(result.stdout)[-1]
    assert result.returncode == 2 and error["kind"] == "output" and "choose another --out" in error["message"]


def test_corrupt_checkpoint_is_named(tmp_path: Path, engine_env: dict[str, str]) -> None:
    out = tmp_path / "run"
    stop(start(out, engine_env, 300, subprocess.PIPE))
    (out / "checkpoint" / "state.safetensors").write_bytes(b"garbage")
    result = engine(["generate", "--resume", str(out)], engine_env)
    error = events(result.stdout)[-1]
    assert result.returncode == 2 and error["kind"] == "checkpoint" and "corrupt" in error["message"]
    assert (out / "config.json").is_file()  # the run folder is left as it was
