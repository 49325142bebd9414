"""A set-up job: child processes run one after another, their output folded into what the panel shows.

Each step is a child process started by the worker (argument lists, never a shell); ``SetupJob.poll``
(Blender's main thread, from a timer) reads what the running step printed, including pip's download
progress and the engine's ``result`` event, parsed into its payload as it arrives, and starts the next
step once it has exited. Standard library only, no bpy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..engine import protocol
from ..engine.payloads import DoctorReport, ModelList, PayloadError, parse_result
from .worker import EngineWorker, EventMessage, ExitMessage, LogMessage, StopTimeouts, WorkerStartError

LOG_TAIL_LINES = 20
_PIP_BYTES = re.compile(r"Progress (\d+) of (\d+)")
_PIP_ACTIVITY = re.compile(r"^\s*(Collecting|Downloading|Processing|Installing collected packages|Successfully)")
_NETWORK_TROUBLE = ("NewConnectionError", "Failed to establish a new connection", "Name or service not known")


@dataclass(frozen=True)
class SetupStep:
    """One child process of a set-up job and its share of the progress bar."""

    label: str  # "Installing torch": what the panel shows while it runs
    command: list[str]
    cwd: Path
    weight: float = 1.0


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class JobState:
    """What the panel shows of a job: a progress bar, a line of text, the result or one error sentence."""

    status: JobStatus = JobStatus.RUNNING
    fraction: float = 0.0
    message: str = "Starting"
    error: str = ""
    result: DoctorReport | ModelList | None = None  # the payload of the steps' last ``result`` event
    log_tail: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status is not JobStatus.RUNNING

    @property
    def succeeded(self) -> bool:
        return self.status is JobStatus.DONE

    def fail(self, error: str) -> None:
        self.status, self.error, self.message = JobStatus.FAILED, error, "Failed"


def pip_progress(line: str) -> tuple[float | None, str | None]:
    """(fraction of the current download, activity to show) read from one line of pip's output."""
    match = _PIP_BYTES.search(line)
    if match:
        done, total = int(match[1]), int(match[2])
        return (done / total if total > 0 else None), None
    if _PIP_ACTIVITY.match(line):
        return None, shorten(line.strip())
    return None, None


class SetupJob:
    """Steps run one after another in child processes; ``poll`` (main thread, from a timer) advances them.

    ``verify`` runs once every step has succeeded, with the last result's payload; it returns an error
    sentence to fail the job, or None. A result that does not parse fails the job when its step exits.
    """

    def __init__(
        self,
        steps: list[SetupStep],
        log_path: Path,
        env: dict[str, str] | None = None,
        verify: Callable[[DoctorReport | ModelList | None], str | None] | None = None,
        failure_hint: str = "",
    ) -> None:
        self.steps = steps
        self.log_path = log_path
        self.env = env or {}
        self.verify = verify
        self.failure_hint = failure_hint  # appended to a failed step's sentence: what to do next
        self.state = JobState()
        self._index = -1
        self._worker: EngineWorker | None = None
        self._step_fraction = 0.0
        self._error_event = ""
        self._unreadable_result = ""
        self._cancelled = False

    @property
    def pid(self) -> int | None:
        """The running step's process id, else None."""
        return self._worker.pid if self._worker is not None else None

    def start(self) -> JobState:
        self._next_step()
        return self.state

    def cancel(self) -> None:
        """Stop the running step (SIGTERM to its process group at once: pip has nothing to save)."""
        self._cancelled = True
        if self._worker is not None:
            self._worker.request_stop()

    def shutdown(self) -> None:
        """Stop for good, blocking briefly (for unregister)."""
        self._cancelled = True
        if self._worker is not None:
            self._worker.shutdown()

    def poll(self) -> JobState:
        """Fold in everything the running step printed; start the next step when it has exited."""
        worker = self._worker
        if worker is None or self.state.finished:
            return self.state
        worker.escalate()
        for message in worker.drain():
            if isinstance(message, EventMessage):
                self._on_event(message.event)
            elif isinstance(message, LogMessage):
                self._on_line(message.line)
            elif isinstance(message, ExitMessage):
                self._on_exit(message.returncode)
                break
        return self.state

    def reject_result(self, error: Exception) -> None:
        """The job succeeded but its result could not be used: fail it with the reason."""
        self.state.fail(_unreadable(error))

    # -- internals ---------------------------------------------------------------------------------

    def _next_step(self) -> None:
        self._index += 1
        self._step_fraction = 0.0
        self._error_event = ""
        if self._index >= len(self.steps):
            error = self.verify(self.state.result) if self.verify is not None else None
            self._finish(JobStatus.FAILED if error else JobStatus.DONE, error or "", "Failed" if error else "Done")
            return
        step = self.steps[self._index]
        self.state.message = step.label
        self._update_fraction()
        _append_to_log(self.log_path, f"\n$ {' '.join(step.command)}\n")
        self._worker = EngineWorker(
            step.command, cwd=step.cwd, log_path=self.log_path, timeouts=StopTimeouts(0.0, 2.0), env=self.env
        )
        try:
            self._worker.start()
        except WorkerStartError as exc:
            self._finish(JobStatus.FAILED, f"{exc}.", "Failed")

    def _on_event(self, event: dict[str, Any]) -> None:
        name = event.get("event")
        if name == protocol.RESULT:
            try:
                self.state.result = parse_result(event)
            except PayloadError as exc:
                self._unreadable_result = _unreadable(exc)
        elif name == protocol.ERROR:
            self._error_event = str(event.get("message") or "")
        elif name == protocol.STAGE and event.get("message"):
            self.state.message = str(event["message"])
            fraction = event.get("fraction")
            if fraction is not None:
                self._step_fraction = float(fraction)
                self._update_fraction()

    def _on_line(self, line: str) -> None:
        self.state.log_tail = [*self.state.log_tail, line][-LOG_TAIL_LINES:]
        fraction, activity = pip_progress(line)
        if fraction is not None:
            self._step_fraction = fraction
            self._update_fraction()
        if activity is not None:
            self.state.message = f"{self.steps[self._index].label}: {activity}"

    def _on_exit(self, returncode: int) -> None:
        step = self.steps[self._index]
        if self._cancelled:
            self._finish(JobStatus.CANCELLED, "", "Cancelled")
        elif returncode != 0:
            self._finish(JobStatus.FAILED, self._failure_sentence(step, returncode), "Failed")
        elif self._unreadable_result:
            self._finish(JobStatus.FAILED, self._unreadable_result, "Failed")
        else:
            self._next_step()

    def _failure_sentence(self, step: SetupStep, returncode: int) -> str:
        if self._error_event:
            return self._error_event
        tail = self.state.log_tail
        if any(marker in line for line in tail for marker in _NETWORK_TROUBLE):
            reason = "the package index cannot be reached; check the internet connection or install from wheels"
        else:
            errors = [line.removeprefix("ERROR: ") for line in tail if line.startswith("ERROR:")]
            reason = shorten(errors[-1] if errors else last_line("\n".join(tail)) or f"exit code {returncode}")
        hint = f"; {self.failure_hint}" if self.failure_hint else ""
        return f"{step.label} failed ({reason}){hint}; the log is {self.log_path}."

    def _update_fraction(self) -> None:
        total = sum(step.weight for step in self.steps) or 1.0
        done = sum(step.weight for step in self.steps[: self._index])
        current = self.steps[self._index].weight * min(max(self._step_fraction, 0.0), 1.0)
        self.state.fraction = max(self.state.fraction, (done + current) / total)

    def _finish(self, status: JobStatus, error: str, message: str) -> None:
        self.state.status = status
        self.state.error = error
        self.state.message = message
        if status is JobStatus.DONE:
            self.state.fraction = 1.0
        self._worker = None


def _unreadable(error: Exception) -> str:
    return f"The engine's answer could not be read: {error}."


def _append_to_log(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        log.write(text)


def last_line(text: str) -> str:
    """The last line of a child's output that is not blank (its error, usually), or ""."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
