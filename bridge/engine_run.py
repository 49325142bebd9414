"""One engine run as a job: its worker process folded into a ``RunState`` (no bpy).

``runtime.JobSlot`` drives it like a set-up job (``start``, ``poll``, ``cancel``, ``shutdown``); what is
particular to a run is here: the stop escalation after a cancel, and the newest preview, handed out once.
"""

from __future__ import annotations

from pathlib import Path

from .command_line import ENGINE_CWD
from .run_state import RunState
from .worker import EngineWorker

WORKER_LOG = "worker.log"  # everything the engine printed, in its run folder beside the engine's own log.jsonl


class EngineRun:
    """A ``generate`` or ``remesh`` process and what the user sees of it."""

    def __init__(self, worker: EngineWorker, kind: str) -> None:
        self.worker = worker
        self.state = RunState(kind=kind)
        self._preview_shown = ""

    @classmethod
    def of(cls, command: list[str], run_dir: Path, kind: str) -> EngineRun:
        """A run of the engine ``command``, logged to ``run_dir``/worker.log; not started yet."""
        return cls(EngineWorker(command, ENGINE_CWD, log_path=run_dir / WORKER_LOG), kind)

    @property
    def pid(self) -> int | None:
        return self.worker.pid

    @property
    def log_path(self) -> Path | None:
        return self.worker.log_path

    def start(self) -> RunState:
        """Start the process; raises WorkerStartError with a sentence for the user when it cannot start."""
        self.worker.start()
        return self.state

    def poll(self) -> RunState:
        """Fold in the worker's queued messages; drive the stop escalation after a cancel."""
        for message in self.worker.drain():
            self.state.apply(message, forced=self.worker.forced)
        self.worker.escalate()
        return self.state

    def new_preview(self) -> Path | None:
        """The preview image the engine wrote since the last call, else None."""
        path = self.state.preview_path
        if not path or path == self._preview_shown:
            return None
        self._preview_shown = path
        return Path(path)

    def cancel(self) -> None:
        """Ask the engine to checkpoint and stop; ``poll`` escalates to SIGTERM and kill if it does not."""
        self.state.request_cancel()
        self.worker.request_stop()

    def shutdown(self) -> None:
        """Stop the process for good (blocking, a few seconds at most)."""
        self.worker.shutdown()

    def reject_result(self, error: Exception) -> None:
        """The run finished but its result could not be brought in: say so (the scene is left as it was)."""
        self.state.fail(f"The run finished but its result could not be imported: {error}", "import")
