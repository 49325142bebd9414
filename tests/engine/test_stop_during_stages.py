"""A stop while the prior prepares and while the mesh is made, on real engine processes: the run ends politely
(a ``cancelled`` event, exit 0, no process left), its cache and folder hold whole files only, and it can be
finished afterwards. The stages are made long enough to land in by their settings alone."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

from tests.engine.test_generate import ROOT, SMALL, engine, events

pytestmark = pytest.mark.slow  # every test runs the real engine as a subprocess

# The text-only prior renders 240 views of the prompt and 240 of its unconditional scenes into a cold cache:
# about twenty chunks of views, seconds of work.
TEXT_PRIOR = ("--prior", "procedural-text", "--set", "guidance.procedural_text.views=240")
# A finer mesh grid is sampled in several chunks; a UV bake at 1024 px takes seconds after the extraction.
LONG_MESH = ("--prior", "procedural", "--set", "mesh.grid_resolution=128", "--set", 'mesh.bake="uv"')
WAIT_S = 120  # a process still running this long after its stop fails the test (the latency is benchmarked)


def popen(args: list[str], env: dict[str, str], stderr: object) -> subprocess.Popen[str]:
    """An engine process with a pipe for stdin (its parent's end) and one for its events."""
    return subprocess.Popen(
        [sys.executable, "-m", "engine", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,  # type: ignore[arg-type]
        text=True,
    )


def start(out: Path, cache: Path, env: dict[str, str], settings: tuple[str, ...], stderr: object):  # type: ignore[no-untyped-def]
    """A new two-step run of "a red cube" with ``settings``."""
    args = ["generate", "--prompt", "a red cube", "--steps", "2", "--seed", "1", "--out", str(out)]
    return popen([*args, "--cache-dir", str(cache), "--preview-every", "0", *SMALL, *settings], env, stderr)


def read_until(process: subprocess.Popen[str], stage: str, low: float, high: float) -> None:
    """Read events until one of ``stage`` reports a fraction in [low, high)."""
    assert process.stdout
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "stage" and event["name"] == stage and low <= (event.get("fraction") or 0) < high:
            return
    raise AssertionError(f"the run ended before its {stage} stage reached {low:.0%}")


def interrupt(process: subprocess.Popen[str], way: str) -> int:
    """Stop the run ``way``; its exit code."""
    assert process.stdin and process.stdout
    if way == "stop":
        process.stdin.write("stop\n")
        process.stdin.flush()
    elif way == "sigterm":
        process.send_signal(signal.SIGTERM)
    else:  # the parent died: both of its pipe ends close
        process.stdin.close()
        process.stdout.close()
    code = process.wait(timeout=WAIT_S)
    for stream in (process.stdin, process.stdout):
        if stream is not None and not stream.closed:
            stream.close()
    return code


def logged(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def whole_files(cache: Path) -> list[str]:
    """The cached image sets, each opened (a half-written one would not open); no partials beside them."""
    assert not [p.name for p in cache.rglob("*") if p.name.endswith(".partial")]
    names = []
    for path in sorted(cache.rglob("*.safetensors")):
        with safe_open(str(path), framework="numpy") as cached:
            assert cached.get_slice("images").get_shape()[0] > 0
        names.append(path.name)
    return names


def stop_while_the_text_prior_prepares(tmp_path: Path, env: dict[str, str], way: str) -> tuple[Path, Path]:
    """A new run stopped ``way`` while its prior builds its image sets, checked to have ended there politely:
    its run folder and cache."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = start(out, cache, env, TEXT_PRIOR, stderr)
        read_until(process, "prior", 0.01, 0.9)
        assert interrupt(process, way) == 0
    lines = logged(out)
    assert lines[-1]["event"] == "cancelled" and lines[-1]["step"] == 0
    assert not [e for e in lines if e["event"] == "progress" or e.get("name") == "optimize"]  # stopped in preparation
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()
    assert len(whole_files(cache)) <= 1  # at most the prompt's set: the stop came before both were built
    return out, cache


@pytest.mark.parametrize("way", ["sigterm", "parent-death"])
def test_a_signal_or_the_parents_death_while_the_text_prior_prepares_ends_the_run_there(
    tmp_path: Path, engine_env: dict[str, str], way: str
) -> None:
    stop_while_the_text_prior_prepares(tmp_path, engine_env, way)


def test_a_stop_line_while_the_text_prior_prepares_leaves_a_cache_the_resume_reuses(
    tmp_path: Path, engine_env: dict[str, str]
) -> None:
    out, cache = stop_while_the_text_prior_prepares(tmp_path, engine_env, "stop")
    stopped_with = whole_files(cache)
    resumed = engine(["generate", "--resume", str(out), "--cache-dir", str(cache)], engine_env)
    assert resumed.returncode == 0 and events(resumed.stdout)[-1]["event"] == "done", resumed.stdout + resumed.stderr
    finished_with = whole_files(cache)
    assert len(finished_with) == 2 and set(stopped_with) <= set(finished_with)  # a whole set is reused


def test_a_stop_line_while_sampling_and_sigterm_while_baking_leave_a_run_that_is_exported_afterwards(
    tmp_path: Path, engine_env: dict[str, str]
) -> None:
    """Stopped while the mesh grid is sampled, resumed (it only exports), stopped again by SIGTERM while the
    texture bakes (the grid is on disk), and then exported by ``remesh``."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = start(out, cache, engine_env, LONG_MESH, stderr)
        read_until(process, "mesh", 0.01, 0.8)  # sampling the grid, before the extraction
        assert interrupt(process, "stop") == 0
        assert logged(out)[-1]["event"] == "cancelled" and logged(out)[-1]["step"] == 2
        assert not (out / "mesh.npz").exists()

        resumed = popen(["generate", "--resume", str(out), "--cache-dir", str(cache)], engine_env, stderr)
        read_until(resumed, "bake", 0.0, 0.5)  # the surface is extracted; unwrapping and baking it begin
        assert interrupt(resumed, "sigterm") == 0
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()
    lines = logged(out)
    second = lines[max(i for i, e in enumerate(lines) if e["event"] == "started") :]
    assert second[-1]["event"] == "cancelled" and "progress" not in [e["event"] for e in second]  # it only exported
    assert not (out / "mesh.npz").exists() and (out / "density_grid.npz").is_file()
    assert not [p.name for p in out.rglob("*") if p.name.endswith((".partial", ".old"))]

    remeshed = engine(["remesh", str(out)], engine_env)
    assert remeshed.returncode == 0, remeshed.stdout + remeshed.stderr
    assert events(remeshed.stdout)[-1]["event"] == "done" and (out / "mesh.npz").is_file()
    assert (out / "albedo.png").is_file()  # with the run's own mesh settings: its UV bake
