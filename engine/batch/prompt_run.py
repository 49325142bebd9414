"""One prompt of a batch as one engine process: ``python -m engine generate`` (or ``--resume``) in its
run folder, read event by event, stopped politely when asked.

The same function runs on this machine (the local executor) and inside a Ray task on another one, so it
needs only the engine's own files, and no torch: the batch's driver and every Ray worker stay light, and
only the engine processes they start load it (Blender's queue asks ``has_checkpoint`` too). The prompt
travels as ``--prompt=TEXT``, never as a word of its own, so a prompt that starts with "-" is still a
prompt; no shell is involved.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import protocol
from ..errors import EngineError
from ..run_files import open_file
from ..run_lock import RunLock
from .ledger import PromptStatus

ENGINE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds engine/
CONFIG_FILE = "config.json"
CHECKPOINT_META = Path("checkpoint") / "meta.json"  # what engine/checkpoint.py writes last in a run folder
STDERR_FILE = "engine-stderr.log"
POLITE_STOP_S = 30.0  # a stop during export may take this long before SIGTERM
TERMINATE_S = 10.0
LOCK_WAIT_S = 60.0  # how long a retry waits for the attempt before it to let go of the folder


@dataclass(frozen=True)
class PromptJob:
    """Everything one prompt's run needs; plain data, so it can travel to a Ray worker."""

    index: int
    prompt: str
    run_dir: str  # absolute
    preset: str = "balanced"
    prior: str | None = None
    steps: int | None = None
    seed: int | None = None
    device: str | None = None
    cache_dir: str | None = None
    settings: tuple[str, ...] = ()  # --set KEY=VALUE items for every prompt
    python: str = field(default_factory=lambda: sys.executable)


@dataclass
class PromptOutcome:
    status: PromptStatus
    seconds: float
    machine: str
    mesh: str = ""  # absolute path of mesh.npz when done
    error: str = ""
    kind: str = ""
    step: int = 0


Listener = Callable[[dict], None]  # every engine event, as it arrives


def has_checkpoint(run_dir: Path) -> bool:
    """The run folder holds a checkpoint, so ``generate --resume`` can continue it."""
    return (Path(run_dir) / CHECKPOINT_META).is_file()


def engine_command(job: PromptJob) -> list[str]:
    """``generate --resume`` where an earlier attempt started the run (its config.json), else a fresh ``generate``
    (an attempt that died before its first checkpoint resumes from step 0)."""
    run_dir = Path(job.run_dir)
    command = [job.python, "-m", "engine", "generate"]
    if (run_dir / CONFIG_FILE).is_file():
        return [*command, "--resume", str(run_dir)]
    command += [f"--prompt={job.prompt}", "--out", str(run_dir), "--preset", job.preset]
    for flag, value in (("--prior", job.prior), ("--steps", job.steps), ("--seed", job.seed), ("--device", job.device)):
        if value is not None:
            command += [flag, str(value)]
    if job.cache_dir:
        command += ["--cache-dir", job.cache_dir]
    for item in job.settings:
        command += ["--set", item]
    return command


def run_prompt(job: PromptJob, stop: threading.Event, listener: Listener | None = None) -> PromptOutcome:
    """Run the prompt's engine process to its end; setting ``stop`` asks it to checkpoint and exit."""
    run_dir = Path(job.run_dir)
    started = time.monotonic()
    machine = socket.gethostname()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        RunLock(run_dir).acquire(wait_s=LOCK_WAIT_S).release()  # an earlier attempt may still be checkpointing
        stderr = open_file(run_dir / STDERR_FILE, "a")
    except EngineError as exc:
        return PromptOutcome(PromptStatus.FAILED, 0.0, machine, error=str(exc), kind=exc.kind)
    except OSError as exc:  # a link or a FIFO in the run folder, a folder that cannot be made
        return PromptOutcome(PromptStatus.FAILED, 0.0, machine, error=f"{run_dir}: {exc.strerror or exc}", kind="input")
    with stderr:
        process = subprocess.Popen(
            engine_command(job),
            cwd=ENGINE_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            start_new_session=True,  # our Ctrl-C reaches it only as the stop we send
        )
        watcher = threading.Thread(target=_stop_when_asked, args=(process, stop), daemon=True)
        watcher.start()
        terminal: dict = {}
        last_step = 0
        for line in _lines(process, stop):
            try:
                event = protocol.decode(line)
            except protocol.ProtocolError:
                continue
            if event["event"] == protocol.PROGRESS:
                last_step = int(event.get("step", last_step))
            if event["event"] in (protocol.DONE, protocol.ERROR, protocol.CANCELLED):
                terminal = event
            if listener is not None:
                listener(event)
        returncode = process.wait()
    seconds = round(time.monotonic() - started, 2)
    name = terminal.get("event")
    if name == protocol.DONE and returncode == 0:
        return PromptOutcome(PromptStatus.DONE, seconds, machine, mesh=str(terminal["mesh"]), step=last_step)
    if name == protocol.CANCELLED:
        return PromptOutcome(PromptStatus.CANCELLED, seconds, machine, step=int(terminal.get("step", last_step)))
    if name == protocol.ERROR:
        message, kind = str(terminal.get("message", "")), str(terminal.get("kind", ""))
        return PromptOutcome(PromptStatus.FAILED, seconds, machine, error=message, kind=kind, step=last_step)
    if stop.is_set():
        return PromptOutcome(PromptStatus.CANCELLED, seconds, machine, step=last_step)
    return PromptOutcome(
        PromptStatus.FAILED,
        seconds,
        machine,
        error=f"the engine process ended without a result ({_describe_exit(returncode)}); see {run_dir / STDERR_FILE}",
        kind="crash",
        step=last_step,
    )


def _lines(process: subprocess.Popen[str], stop: threading.Event) -> Iterator[str]:
    """The process's output lines; an interrupt of this thread (Ray's cancel) becomes a polite stop."""
    assert process.stdout is not None
    while True:
        try:
            line = process.stdout.readline()
        except KeyboardInterrupt:
            stop.set()
            continue
        if not line:
            return
        yield line


def _stop_when_asked(process: subprocess.Popen[str], stop: threading.Event) -> None:
    """Stop line, then SIGTERM, then SIGKILL, each after its grace period, once ``stop`` is set."""
    while process.poll() is None:
        if stop.wait(0.2):
            break
    if process.poll() is not None:
        return
    with contextlib.suppress(OSError, ValueError):
        assert process.stdin is not None
        process.stdin.write(protocol.STOP_COMMAND + "\n")
        process.stdin.flush()
    for signum, grace in ((signal.SIGTERM, POLITE_STOP_S), (signal.SIGKILL, TERMINATE_S)):
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
        return f"killed by signal {-returncode}"
    return f"exit code {returncode}"
