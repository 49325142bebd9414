"""The engine as a child process: started from a list of arguments (never a shell), read by one thread.

The reader thread only fills a queue; Blender's main thread drains it (``drain``) and alone touches
Blender data. Stopping asks politely (a ``stop`` line on stdin), then sends SIGTERM to the process
group, then kills it, so no path leaves an orphan behind. The non-blocking ``escalate`` lets a UI
timer drive that schedule without freezing; the blocking ``shutdown`` is for unregister and exit.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..engine import protocol
from ..engine.run_files import open_file


@dataclass(frozen=True)
class EventMessage:
    """One protocol event from the engine's stdout."""

    event: dict[str, Any]


@dataclass(frozen=True)
class LogMessage:
    """A line that is not a protocol event (warnings, tracebacks on stderr)."""

    line: str


@dataclass(frozen=True)
class ExitMessage:
    """The process has ended and been reaped; always the last message. Negative: killed by that signal."""

    returncode: int


WorkerMessage = EventMessage | LogMessage | ExitMessage


@dataclass(frozen=True)
class StopTimeouts:
    """How long each step of stopping waits before the next (the engine promises to exit within 2 s)."""

    polite_s: float = 3.0
    terminate_s: float = 2.0


class WorkerStartError(RuntimeError):
    """The engine process could not be started; the message says what to fix."""


@dataclass
class _Escalation:
    stop_requested_at: float | None = None
    terminated_at: float | None = None
    killed: bool = False


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The engine's environment: Blender's, minus what would point another Python at Blender's own."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONHOME"}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


class EngineWorker:
    """One engine process and the thread that reads it."""

    def __init__(
        self,
        command: Sequence[str],
        cwd: Path,
        log_path: Path | None = None,
        timeouts: StopTimeouts | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = [str(part) for part in command]
        self.cwd = Path(cwd)
        self.log_path = log_path
        self.timeouts = timeouts or StopTimeouts()
        self.env = child_environment(env)
        self.messages: queue.Queue[WorkerMessage] = queue.Queue()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._escalation = _Escalation()
        self._log: IO[str] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the process and its reader thread; raises WorkerStartError with a message for the user."""
        if self._process is not None:
            raise RuntimeError("this worker was already started")
        options: dict[str, Any] = {}
        if os.name == "posix":
            options["start_new_session"] = True  # its own process group: signals reach its children too
        else:
            options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
        if self.log_path is not None:
            try:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log = open_file(self.log_path, "a")  # no link followed, no FIFO waited on; the reader closes it
            except OSError as exc:
                raise WorkerStartError(
                    f"Cannot write the run log {self.log_path} ({exc.strerror or exc}); choose a writable folder"
                ) from exc
        try:
            self._process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                **options,
            )
        except OSError as exc:
            if self._log is not None:
                self._log.close()
            raise WorkerStartError(
                f"Cannot start the engine with {self.command[0]} ({exc.strerror or exc}); "
                "check the Engine Python in the add-on preferences"
            ) from exc
        self._reader = threading.Thread(target=self._read, name="dreamfusion-engine-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """True until the process has exited."""
        return self._process is not None and self._process.poll() is None

    @property
    def stop_requested(self) -> bool:
        return self._escalation.stop_requested_at is not None

    @property
    def forced(self) -> str | None:
        """ "killed" or "terminated" when stopping needed more than the polite request, else None."""
        if self._escalation.killed:
            return "killed"
        if self._escalation.terminated_at is not None:
            return "terminated"
        return None

    def drain(self) -> list[WorkerMessage]:
        """Every message queued so far, without waiting (main thread)."""
        drained: list[WorkerMessage] = []
        while True:
            try:
                drained.append(self.messages.get_nowait())
            except queue.Empty:
                return drained

    # -- stopping --------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the engine to checkpoint and stop; ``escalate`` takes it from there."""
        if self._process is None or self.stop_requested:
            return
        self._escalation.stop_requested_at = time.monotonic()
        stdin = self._process.stdin
        try:
            if stdin is not None:
                stdin.write(protocol.STOP_COMMAND + "\n")
                stdin.flush()
        except (OSError, ValueError):  # already gone, or stdin closed: the later steps still apply
            pass

    def escalate(self, now: float | None = None) -> None:
        """After a stop request: SIGTERM once ``polite_s`` has passed, kill ``terminate_s`` later.

        Non-blocking, so a UI timer can call it on every tick.
        """
        state = self._escalation
        if state.stop_requested_at is None or not self.running:
            return
        now = time.monotonic() if now is None else now
        if state.terminated_at is None:
            if now - state.stop_requested_at >= self.timeouts.polite_s:
                self._signal(signal.SIGTERM)
                state.terminated_at = now
        elif not state.killed and now - state.terminated_at >= self.timeouts.terminate_s:
            self._signal(signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
            state.killed = True

    def shutdown(self) -> None:
        """Stop the process for good and reap it, blocking at most about polite_s + terminate_s seconds."""
        if self._process is None:
            return
        self.request_stop()
        while self.running and not self._escalation.killed:
            self.escalate()
            time.sleep(0.02)
        self._process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5.0)
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()

    def _signal(self, signum: int) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            if os.name == "posix":
                os.killpg(process.pid, signum)
            elif signum == signal.SIGTERM and self._escalation.terminated_at is None:
                process.terminate()
            else:
                process.kill()
        except (ProcessLookupError, PermissionError):  # exited between the check and the signal
            pass

    # -- reader thread ---------------------------------------------------------------------------

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        log = self._log
        try:
            for raw in process.stdout:
                if log is not None:
                    log.write(raw)
                    log.flush()
                line = raw.rstrip("\r\n")
                try:
                    self.messages.put(EventMessage(protocol.decode(line)))
                except protocol.ProtocolError:
                    if line.strip():
                        self.messages.put(LogMessage(line))
        finally:
            if log is not None:
                log.close()
            process.stdout.close()
            self.messages.put(ExitMessage(process.wait()))
