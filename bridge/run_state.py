"""What the user sees of one engine run, folded from the worker's messages (no bpy).

The main thread applies each message in order; the panel reads the result. A run is finished only
when its process has exited, so the Generate button never returns while a process is alive.
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..engine import protocol
from .model_list import format_bytes
from .worker import EventMessage, ExitMessage, LogMessage, WorkerMessage

LOG_TAIL_LINES = 8
# What the progress bar says during the stages around optimization (the engine's own message for any other).
STAGE_LABELS = {
    "turntable": "Rendering the turntable",
    "mesh": "Extracting the mesh",
    "refine": "Refining the mesh",
    "bake": "Baking the colors",
    "export": "Writing the mesh files",
}


class RunStatus(StrEnum):
    RUNNING = "running"
    STOPPING = "stopping"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass
class RunState:
    """Progress, latest preview, result or error of the current run."""

    kind: str = "generate"  # "generate" | "remesh"
    status: RunStatus = RunStatus.RUNNING
    message: str = "Starting the engine"
    stage: str = ""
    step: int = 0
    total: int = 0
    loss: float | None = None
    it_per_s: float = 0.0
    eta_s: float | None = None
    stage_fraction: float | None = None  # progress within a stage after optimization (mesh, bake)
    run_dir: str = ""
    preview_path: str = ""
    preview_step: int = 0
    result: dict[str, Any] | None = None  # the ``done`` event
    error: str = ""  # one or two sentences for a person
    error_kind: str = ""
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))  # last non-event lines
    cancelled_at_step: int | None = None  # from the engine's ``cancelled`` event
    warning: str = ""  # the engine's latest ``warning`` event: the run goes on, the user should know
    warning_kind: str = ""
    skipped_steps: int = 0  # steps the engine skipped for a loss or gradient that was not finite (its step guard)

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.CANCELLED, RunStatus.FAILED)

    @property
    def succeeded(self) -> bool:
        return self.status is RunStatus.DONE

    @property
    def progress(self) -> float:
        """0..1 for the progress bar: optimization steps, then the fraction of a later stage."""
        if self.stage_fraction is not None:
            return min(max(self.stage_fraction, 0.0), 1.0)
        return min(self.step / self.total, 1.0) if self.total > 0 else 0.0

    def progress_label(self) -> str:
        """ "Step 120/600 · 4.2 it/s · 1 min 54 s left", or the stage message after optimization."""
        if self.stage_fraction is not None or self.total <= 0 or self.stage not in ("", "optimize"):
            return self.message
        parts = [f"Step {self.step}/{self.total}"]
        if self.it_per_s > 0:
            parts.append(f"{self.it_per_s:.1f} it/s")
        if self.eta_s is not None:
            parts.append(f"{format_duration(self.eta_s)} left")
        return " · ".join(parts)

    def skipped_text(self) -> str:
        """ "Skipped 3 non-finite steps" once the engine has skipped any (its loss or gradient was inf or NaN, so
        the field did not change on those steps), else empty: the user learns why a run may look stuck."""
        if self.skipped_steps <= 0:
            return ""
        return f"Skipped {self.skipped_steps} non-finite step{'' if self.skipped_steps == 1 else 's'}"

    def request_cancel(self) -> None:
        if self.status is RunStatus.RUNNING:
            self.status = RunStatus.STOPPING
            self.message = "Stopping: saving a checkpoint"

    def apply(self, message: WorkerMessage, forced: str | None = None) -> None:
        """Fold one worker message in; ``forced`` (how the worker had to stop it) matters only at exit."""
        if isinstance(message, EventMessage):
            self._apply_event(message.event)
        elif isinstance(message, LogMessage):
            self.log_tail.append(message.line)
        elif isinstance(message, ExitMessage):
            self._apply_exit(message.returncode, forced)

    def _apply_event(self, event: dict[str, Any]) -> None:
        name = event["event"]
        if name == protocol.STARTED:
            self.run_dir = str(event.get("run_dir", self.run_dir))
            self.total = int(event.get("total") or 0)
            self.message = f"Running on {event.get('device', 'the engine')}"
        elif name == protocol.STAGE:
            self.stage = str(event.get("name", ""))
            fraction = event.get("fraction")
            self.stage_fraction = float(fraction) if fraction is not None and self.stage != "optimize" else None
            self.message = stage_message(self.stage, str(event.get("message") or self.stage), self.stage_fraction)
        elif name == protocol.PROGRESS:
            self.step = int(event.get("step", self.step))
            self.total = int(event.get("total") or self.total)
            self.loss = _optional_float(event.get("loss"))
            self.it_per_s = float(event.get("it_per_s") or 0.0)
            self.eta_s = _optional_float(event.get("eta_s"))
            self.skipped_steps = int(event.get("skipped_steps") or 0)
            self.stage_fraction = None
            if self.status is RunStatus.RUNNING:
                self.message = "Optimizing"
        elif name == protocol.PREVIEW:
            self.preview_path = str(event["path"])
            self.preview_step = int(event.get("step", self.step))
        elif name == protocol.DONE:
            self.result = event
            self.run_dir = str(event.get("run_dir", self.run_dir))
        elif name == protocol.ERROR:
            error = str(event.get("message") or "The engine reported an error without a message.")
            self.error = error[:1].upper() + error[1:]  # a sentence, as the panel shows sentences
            self.error_kind = str(event.get("kind", ""))
        elif name == protocol.CANCELLED:
            self.cancelled_at_step = int(event.get("step", self.step))
        elif name == protocol.WARNING:
            self.warning = str(event.get("message") or "")
            self.warning_kind = str(event.get("kind", ""))

    def _apply_exit(self, returncode: int, forced: str | None) -> None:
        if self.result is not None:
            self.status = RunStatus.DONE
            elapsed = format_duration(float(self.result.get("elapsed_s") or 0.0))
            self.message = f"Done in {elapsed}{peak_memory_text(self.result.get('peak_memory'))}"
        elif self.cancelled_at_step is not None:
            self.status = RunStatus.CANCELLED
            self.message = f"Cancelled at step {self.cancelled_at_step}; the checkpoint is kept in the run folder"
        elif self.error:
            self.status = RunStatus.FAILED
            self.message = "Failed"
        elif self.status is RunStatus.STOPPING:
            self.status = RunStatus.CANCELLED
            self.message = "Cancelled" + (f" (the engine did not stop in time and was {forced})" if forced else "")
        else:
            self.status = RunStatus.FAILED
            self.message = "Failed"
            self.error = f"The engine stopped unexpectedly ({describe_exit(returncode)}) and the scene was not changed."
            self.error_kind = "crash"

    def fail(self, message: str, kind: str) -> None:
        """A failure found on Blender's side after the run (for example an unreadable mesh)."""
        self.status = RunStatus.FAILED
        self.message = "Failed"
        self.error = message
        self.error_kind = kind

    def error_report(self) -> str:
        """The error with the last log lines, for the operator report and the console."""
        if not self.error or not self.log_tail:
            return self.error
        return self.error + " Last lines of its log:\n" + "\n".join(self.log_tail)


def stage_message(stage: str, engine_message: str, fraction: float | None) -> str:
    """ "Extracting the mesh 45%" for a stage this add-on names, else the engine's own message, capitalized."""
    label = STAGE_LABELS.get(stage)
    if label is None:
        return engine_message.capitalize()
    return label if fraction is None else f"{label} {fraction:.0%}"


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"ended by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"ended by signal {-returncode}"
    return f"exit code {returncode}"


def format_duration(seconds: float) -> str:
    """ "45 s", "3 min 05 s", "1 h 02 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def peak_memory_text(peak: Any) -> str:
    """ " · peak 5.2 GB of CUDA memory" (" · peak 1.3 GB of RAM" on the CPU) from a ``done`` event's peak_memory;
    "" for an engine that does not report it."""
    if not isinstance(peak, dict):
        return ""
    device = str(peak.get("device") or "")
    on_device = peak.get("reserved_bytes") or peak.get("allocated_bytes")
    count, where = (on_device, f"{device.upper()} memory") if on_device else (peak.get("process_bytes"), "RAM")
    return f" · peak {format_bytes(float(count))} of {where}" if isinstance(count, int | float) and count else ""


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
