"""``python -m bench reliability``: start/cancel/kill/parent-death cycles and the bad-input matrix, on real
engine processes, counting orphans, exit codes, lost steps, lost runs and damaged files.

A cycle starts a small ``generate``, interrupts it one of four ways in one of three phases, then resumes it
to the end: a run that cannot be finished is lost. The phases: the prior's preparation (the text-only prior
rendering its image sets into a cold cache of the cycle's own, interrupted once it has reported part of
that work; the cache must then hold whole files only), optimization (once a step is reported) and meshing
(a finer mesh grid, interrupted once sampling it has begun). Lost steps are the steps reported before the
interruption that the checkpoint does not hold (0 for every polite way; a kill loses what came after the
last periodic checkpoint, by design). Stop-to-exit is the time from the interruption to the process's end.
The matrix feeds each bad input to a new run, a resume, a remesh or a batch and expects an ``error`` of an
expected kind, exit 2, no traceback, no hang, and no run folder left behind (or the folder unchanged; a run that
ran out of memory keeps its resumable folder). Its rows include the classes a hostile test found: links
and FIFOs in a run folder, ``--out`` at a folder of the user's, running out of CPU memory, bad ledger lines and
prompts, a batch's own bad flags, and a resume whose checkpoint is gone. Targets (bench/targets.py): no orphans,
no lost runs, no internal errors, no defects in the matrix.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open

from engine import checkpoint, protocol
from engine.atomic_write import remove
from engine.batch.ledger import LEDGER_FILE, PromptRecord
from engine.config import RunConfig, to_dict
from engine.mesh.file_format import MeshData, write_npz

from .payload import to_json
from .reliability_results import BadInput, Counts, Cycle, ReliabilityPayload, Summary
from .results_file import RELIABILITY, RESULTS_DIR, Envelope, Results, write_results

ROOT = Path(__file__).resolve().parents[1]
WAYS = ("stop", "sigterm", "sigkill", "parent-death")
POLITE = ("stop", "sigterm", "parent-death")
MATRIX_TIMEOUT_S = 120.0  # a bad input whose process is still running this long has hung on it
EXIT_WAIT_S = 30.0  # a process still running this long after its interruption is counted as an orphan
TINY = ("--set", "render.resolution=32", "--set", "mesh.grid_resolution=32", "--set", "turntable_frames=1")
TINY += ("--set", "guidance.procedural_text.views=8", "--preview-every", "0", "--checkpoint-every", "10")
PHASES = ("optimize", "prior", "mesh")
# Settings that make a phase last long enough to be interrupted in (seconds here), after TINY's.
PHASE_SETTINGS = {
    "optimize": ("--prior", "procedural"),
    "prior": ("--prior", "procedural-text", "--set", "guidance.procedural_text.views=240"),
    "mesh": ("--prior", "procedural", "--set", "mesh.grid_resolution=128"),
}


def _engine(args: list[str], **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


def _generate_args(out: Path, steps: int, cache: Path, phase: str) -> list[str]:
    args = ["generate", "--prompt", "a red cube", "--preset", "fast", "--seed", "1", "--steps", str(steps)]
    return [*args, "--out", str(out), "--cache-dir", str(cache), *TINY, *PHASE_SETTINGS[phase]]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".partial", ".old")))


def _unreadable(cache: Path) -> list[str]:
    """Cached prior files that do not open (a write that was cut short would be one)."""
    unreadable = []
    for path in sorted(cache.rglob("*.safetensors")):
        try:
            with safe_open(str(path), framework="numpy") as cached:
                list(cached.keys())
        except (SafetensorError, OSError):
            unreadable.append(path.name)
    return unreadable


def _landed(event: dict[str, Any], phase: str, at_step: int) -> bool:
    """Whether the run has got far enough into ``phase`` to be interrupted there (the phases that are not
    optimization are stages of the same name)."""
    if phase == "optimize":
        return event["event"] == protocol.PROGRESS and event["step"] >= at_step
    return event["event"] == protocol.STAGE and event["name"] == phase and 0 < (event.get("fraction") or 0) < 1


def _interrupt(process: subprocess.Popen[str], way: str) -> None:
    assert process.stdin and process.stdout
    if way == "stop":
        process.stdin.write(protocol.STOP_COMMAND + "\n")
        process.stdin.flush()
    elif way == "sigterm":
        process.send_signal(signal.SIGTERM)
    elif way == "sigkill":
        process.kill()
    else:  # the client died: both of its pipe ends close
        process.stdin.close()
        process.stdout.close()


def run_cycle(way: str, out: Path, steps: int, cache: Path, at_step: int, phase: str = "optimize") -> Cycle:
    process = _engine(_generate_args(out, steps, cache, phase), stdin=subprocess.PIPE)
    assert process.stdout
    reported = 0
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == protocol.PROGRESS:
            reported = event["step"]
        if _landed(event, phase, at_step):
            break
    else:
        raise RuntimeError(f"the {phase} cycle's run ended before it could be interrupted ({way})")
    interrupted = time.perf_counter()
    _interrupt(process, way)
    try:
        exit_code: int | None = process.wait(timeout=EXIT_WAIT_S)
        stop_to_exit: float | None = time.perf_counter() - interrupted
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        exit_code, stop_to_exit = None, None
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None and not stream.closed:
            stream.close()
    saved = checkpoint.read_meta(out / "checkpoint")["step"] if checkpoint.exists(out / "checkpoint") else None
    resume = _engine(["generate", "--resume", str(out), "--cache-dir", str(cache)], stdin=subprocess.DEVNULL)
    stdout, _ = resume.communicate()
    events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    resumed = resume.returncode == 0 and bool(events) and events[-1]["event"] == protocol.DONE
    return Cycle(
        way=way,
        phase=phase,
        exit_code=exit_code,
        stop_to_exit_s=None if stop_to_exit is None else round(stop_to_exit, 3),
        reported_step=reported,
        checkpoint_step=saved,
        lost_steps=max(0, reported - (saved or 0)),
        resumed=resumed and (out / "mesh.npz").is_file(),
        damaged=_leftovers(out) + _leftovers(cache) + _unreadable(cache),
    )


def _resume_folder(folder: Path, config: str | None = None, meta: str | None = None) -> list[str]:
    """A stopped run's folder with the given config.json / checkpoint sidecar texts; the resume's arguments."""
    (folder / "checkpoint").mkdir(parents=True)
    good_meta = {"format_version": checkpoint.FORMAT_VERSION, "step": 10, "param_groups": [{}]}
    (folder / "config.json").write_text(config or json.dumps(to_dict(RunConfig(prompt="a red cube"))))
    (folder / "checkpoint" / checkpoint.META_FILE).write_text(meta or json.dumps(good_meta))
    return ["generate", "--resume", str(folder)]


def _meta_with_step(step: object) -> str:
    return json.dumps({"format_version": checkpoint.FORMAT_VERSION, "step": step, "param_groups": []})


def _new(*flags: str, prompt: str = "a red cube") -> Callable[[Path], list[str]]:
    return lambda folder: ["generate", f"--prompt={prompt}", *flags, "--out", str(folder)]


def _seed_zero() -> str:
    return json.dumps({**to_dict(RunConfig(prompt="a red cube")), "seed": "zero"})


USERS_FILE = "user-notes.txt"  # a file of the user's where a link in the folder points: it must stay as it was


def _stopped_run(folder: Path) -> Path:
    """A run stopped after its first checkpoint and an export, as the checks of a resume or remesh see it."""
    _resume_folder(folder)
    (folder / "checkpoint" / checkpoint.STATE_FILE).write_bytes(b"state")
    write_npz(folder / "mesh.npz", MeshData(np.eye(3), [[0, 1, 2]], np.ones((3, 4))))
    (folder / "log.jsonl").write_text(protocol.encode(protocol.CHECKPOINT, step=10, path="checkpoint") + "\n")
    (folder / USERS_FILE).write_text("the user's own notes\n")
    return folder


def _link_in_run(name: str, command: str) -> Callable[[Path], list[str]]:
    """A stopped run whose ``name`` is a link to the user's file, then ``command`` on it."""

    def build(folder: Path) -> list[str]:
        _stopped_run(folder)
        (folder / name).unlink(missing_ok=True)
        (folder / name).symlink_to(folder / USERS_FILE)
        if command == "remesh":
            return ["remesh", str(folder), "--threshold", "20"]
        return ["generate", "--resume", str(folder)]

    return build


def _fifo_in_run(name: str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        _stopped_run(folder)
        (folder / name).unlink(missing_ok=True)
        os.mkfifo(folder / name)
        return ["generate", "--resume", str(folder)]

    return build


def _users_folder(folder: Path) -> list[str]:
    (folder / "previews").mkdir(parents=True)
    (folder / "mesh.npz").write_text("the user's mesh")
    (folder / "previews" / "step_000003.png").write_text("the user's picture")
    return ["generate", "--prompt=a red cube", "--out", str(folder)]


def _a_file(folder: Path) -> list[str]:
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.with_suffix(".txt").write_text("the user's own notes\n")
    return ["generate", "--prompt=a red cube", "--out", str(folder.with_suffix(".txt"))]


def _without(*names: str) -> Callable[[Path], list[str]]:
    """A stopped run with ``names`` deleted (files, or the checkpoint folder), then a resume."""

    def build(folder: Path) -> list[str]:
        _stopped_run(folder)
        for name in names:
            remove(folder / name)
        return ["generate", "--resume", str(folder)]

    return build


def _batch(*flags: str, prompts: str = "a red cube\n", ledger: dict[str, object] | None = None) -> Callable:
    """``engine batch`` of ``prompts`` into the folder, with a ledger line changed by ``ledger`` when given."""

    def build(folder: Path) -> list[str]:
        prompt_list = folder.with_suffix(".prompts")
        prompt_list.parent.mkdir(parents=True, exist_ok=True)
        prompt_list.write_text(prompts)
        if ledger is not None:
            folder.mkdir(parents=True)
            record = json.loads(PromptRecord(index=0, prompt="a red cube").to_json())
            (folder / LEDGER_FILE).write_text(json.dumps({**record, **ledger}) + "\n")
        return ["batch", str(prompt_list), "--out", str(folder), "--preset", "fast", *flags]

    return build


# Runs that may leave their folder: it is a run that started and can be resumed.
LEAVES_A_RUN = ("CPU out of memory",)
OUT_OF_CPU_MEMORY = ("--set", "render.resolution=512", "--set", "render.samples_per_ray=1024")
OUT_OF_CPU_MEMORY += ("--set", "optim.batch_size=64")


def _batch_into_users_folder(folder: Path) -> list[str]:
    _users_folder(folder)
    return _batch()(folder)


MATRIX: dict[str, Callable[[Path], list[str]]] = {
    "prompt: empty": _new(prompt=" "),
    "prompt: unknown word": _new(prompt="a red dragon"),
    "--set optim.lr=abc": _new("--set", 'optim.lr="abc"'),
    "--set optim.lr=NaN": _new("--set", "optim.lr=NaN"),
    '--set optim.steps="10"': _new("--set", 'optim.steps="10"'),
    "--set render.resolution=0": _new("--set", "render.resolution=0"),
    "--set render.resolution=100000": _new("--set", "render.resolution=100000"),
    "--set render.samples_per_ray=0": _new("--set", "render.samples_per_ray=0"),
    "--set mesh.bake=png": _new("--set", 'mesh.bake="png"'),
    "--set mesh.texture_size=10": _new("--set", "mesh.texture_size=10"),
    "--set unknown.path": _new("--set", "optim.nope=1"),
    "--seed 2^64": _new("--seed", str(2**64)),
    "--guidance-scale nan": _new("--guidance-scale", "nan"),
    "--device tpu": _new("--device", "tpu"),
    "--prior dall-e": _new("--prior", "dall-e"),
    "meta.json [1,2]": lambda folder: _resume_folder(folder, meta="[1, 2]"),
    "meta.json null": lambda folder: _resume_folder(folder, meta="null"),
    "meta.json step 1000000": lambda folder: _resume_folder(folder, meta=_meta_with_step(1000000)),
    "config.json []": lambda folder: _resume_folder(folder, config="[]"),
    'config.json seed "zero"': lambda folder: _resume_folder(folder, config=_seed_zero()),
    "--resume with --prompt": lambda folder: [*_resume_folder(folder), "--prompt", "a blue sphere"],
    "--resume --steps fewer than done": lambda folder: [*_resume_folder(folder), "--steps", "5"],
    # class 1: links and FIFOs in a run folder are neither followed nor waited on
    "remesh, .lock a link to a user's file": _link_in_run(".lock", "remesh"),
    "resume, checkpoint/meta.json a link": _link_in_run("checkpoint/meta.json", "resume"),
    "resume, config.json a link": _link_in_run("config.json", "resume"),
    "resume, log.jsonl a FIFO": _fifo_in_run("log.jsonl"),
    "resume, .lock a FIFO": _fifo_in_run(".lock"),
    # 2: --out only at a missing or empty folder
    "--out at a user's folder": _users_folder,
    "--out at a file": _a_file,
    "batch --out at a user's folder": _batch_into_users_folder,
    # 4: sentences where internal errors were
    "CPU out of memory": _new(*OUT_OF_CPU_MEMORY, "--steps", "3"),
    "ledger status unknown": _batch(ledger={"status": "finished"}),
    'ledger "seconds": "abc"': _batch(ledger={"seconds": "abc"}),
    "batch prompt with a NUL": _batch(prompts="a red cube\na blue\x00 sphere\n"),
    # 5: a batch's own flags checked before its folder exists
    "batch --set optim.lr=abc": _batch("--set", 'optim.lr="abc"'),
    "batch --steps 0": _batch("--steps", "0"),
    "batch --device tpu": _batch("--device", "tpu"),
    # 6: a resume trusts only what is there
    "resume without checkpoint/meta.json": _without(f"checkpoint/{checkpoint.META_FILE}"),
    "resume without checkpoint, mesh.npz there": _without("checkpoint"),
    "resume without checkpoint and mesh, logged": _without("checkpoint", "mesh.npz"),
}


# The kind each of the matrix's rows must end with (an argument error of kind "input" would not test the row).
EXPECTED_KINDS = {
    **dict.fromkeys([name for name in MATRIX if name.startswith(("remesh,", "resume,"))], "input"),
    **dict.fromkeys([name for name in MATRIX if name.startswith(("ledger", "batch"))], "input"),
    **dict.fromkeys([name for name in MATRIX if "--out at" in name], "output"),
    **dict.fromkeys([name for name in MATRIX if name.startswith("resume without")], "checkpoint"),
    "CPU out of memory": "memory",
}
# The words each must say (the sentence of the check it is about, not another one that came first).
EXPECTED_WORDS = {
    "batch --out at a user's folder": "holds no batch",
    "ledger status unknown": "is not a batch record",
    'ledger "seconds": "abc"': "is not a batch record",
    "batch prompt with a NUL": "control character",
    "batch --set optim.lr=abc": "optim.lr must be a number",
    "batch --steps 0": "optim.steps must be",
    "batch --device tpu": "device must be one of",
}


def is_defect(bad: BadInput) -> bool:
    """Anything but one sentence of the expected kind with exit 2 and nothing changed."""
    wrong_kind = bad.kind in (None, "internal") or EXPECTED_KINDS.get(bad.name, bad.kind) != bad.kind
    wrong_kind |= EXPECTED_WORDS.get(bad.name, "") not in (bad.message or "")
    return bad.exit_code != 2 or wrong_kind or bad.traceback or bad.damaged or bad.hung


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` (a link or a FIFO is not read: opening a FIFO would wait)."""
    files = (p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) if folder.is_dir() else ()
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def run_bad_input(name: str, scratch: Path) -> BadInput:
    folder = scratch / name.replace("/", "_").replace(" ", "_")
    args = MATRIX[name](folder)
    before = _snapshot(folder)
    process = _engine(args, stdin=subprocess.DEVNULL)
    try:
        stdout, stderr = process.communicate(timeout=MATRIX_TIMEOUT_S)
        hung = False
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        hung = True
    process_events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    error = process_events[-1] if process_events and process_events[-1]["event"] == protocol.ERROR else {}
    after = {key: value for key, value in _snapshot(folder).items() if key != ".lock"}
    if name in LEAVES_A_RUN:  # a run that started keeps its folder, resumable
        damaged = not (folder / "config.json").is_file() or bool(_leftovers(folder))
    else:
        damaged = after != before
    return BadInput(
        name=name,
        exit_code=process.returncode,
        kind=error.get("kind"),
        message=error.get("message"),
        traceback="Traceback" in stderr,
        damaged=damaged,
        hung=hung,
    )


def _counts(rows: list[Cycle]) -> Counts:
    times = [c.stop_to_exit_s for c in rows if c.stop_to_exit_s is not None]
    return Counts(
        cycles=len(rows),
        orphans=sum(c.exit_code is None for c in rows),
        exit_codes=sorted({c.exit_code for c in rows if c.exit_code is not None}),
        lost_steps=sum(c.lost_steps for c in rows),
        lost_runs=sum(not c.resumed for c in rows),
        damaged_files=sum(len(c.damaged) for c in rows),
        stop_to_exit_max_s=max(times) if times else None,
    )


def summarize(cycles: list[Cycle], matrix: list[BadInput]) -> Summary:
    per_way = {way: _counts([c for c in cycles if c.way == way]) for way in WAYS if any(c.way == way for c in cycles)}
    per_phase = {
        f"{phase}, {way}": _counts(rows)
        for phase in PHASES
        for way in WAYS
        if (rows := [c for c in cycles if c.phase == phase and c.way == way])
    }
    return Summary(
        per_way=per_way,
        per_phase=per_phase,
        orphans=sum(c.exit_code is None for c in cycles),
        lost_runs=sum(not c.resumed for c in cycles),
        lost_steps_polite=sum(c.lost_steps for c in cycles if c.way in POLITE),
        internal_errors=sum(b.exit_code == 3 or b.kind == "internal" for b in matrix),
        matrix_tracebacks=sum(b.traceback for b in matrix),
        matrix_damaged=sum(b.damaged for b in matrix),
        matrix_hung=sum(b.hung for b in matrix),
        matrix_defects=sum(is_defect(b) for b in matrix),
    )


def run_reliability(
    cycles: int,
    steps: int,
    results_dir: Path,
    ways: tuple[str, ...] = WAYS,
    matrix: tuple[str, ...] = tuple(MATRIX),
    phases: tuple[str, ...] = PHASES,
) -> Path:
    """``cycles`` interruptions (``ways`` in turn, each way in every one of ``phases`` in turn) and the bad
    inputs named in ``matrix``; the results file."""
    done: list[Cycle] = []
    bad: list[BadInput] = []
    path = results_dir / RELIABILITY.name

    def write() -> None:
        """The results so far (after every process, so an interrupted benchmark keeps what it measured)."""
        payload = ReliabilityPayload(steps, summarize(done, bad), done, bad)
        write_results(path, Results(Envelope.now(RELIABILITY.kind), payload.to_json()))

    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as scratch_name:
        scratch = Path(scratch_name)
        for name in matrix:
            bad.append(run_bad_input(name, scratch / "matrix"))
            write()
            print(f"bad input {name}: exit {bad[-1].exit_code}, kind {bad[-1].kind}", flush=True)
        for index in range(cycles):
            way, phase = ways[index % len(ways)], phases[index // len(ways) % len(phases)]
            cache = scratch / (f"cache_{index:03d}" if phase == "prior" else "cache")  # a cold cache to build
            cycle = run_cycle(way, scratch / f"cycle_{index:03d}", steps, cache, 1 + index % (steps - 1), phase)
            done.append(cycle)
            write()
            print(
                f"cycle {index + 1}/{cycles} {phase}, {way}: exit {cycle.exit_code}, lost {cycle.lost_steps} steps, "
                f"resumed {cycle.resumed}, stop-to-exit {cycle.stop_to_exit_s} s",
                flush=True,
            )
    print(json.dumps(to_json(summarize(done, bad)), indent=2))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench reliability", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cycles", type=int, default=60, help="interruptions, the four ways in turn, each in the three phases in turn"
    )
    parser.add_argument("--steps", type=int, default=24, help="steps of each cycle's run")
    parser.add_argument("--no-matrix", action="store_true", help="skip the bad-input matrix")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    matrix = () if args.no_matrix else tuple(MATRIX)
    print(f"wrote {run_reliability(args.cycles, args.steps, args.results, matrix=matrix)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
