"""The versioned wire protocol between the engine process and its clients (the Blender add-on).

The engine writes one JSON object per line on stdout; every object has ``"event"`` and
``"protocol"``. Clients write plain command lines on the engine's stdin (``stop``).
Standard library only: the add-on imports this module inside Blender.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable
from typing import IO, Any

from .run_files import open_file

PROTOCOL_VERSION = 1

# Events the engine emits, in the order a run emits them.
STARTED = "started"  # run_dir, prompt, prior, total, device
# name ("prior", "optimize", "turntable", "mesh", "refine", "bake", "export"), message, fraction (optional)
STAGE = "stage"
# step, total, loss, losses (weighted terms by name; null where not finite), it_per_s, eta_s, mode,
# skipped_steps (steps whose loss or gradient was not finite, skipped without an update)
PROGRESS = "progress"
PREVIEW = "preview"  # step, path (PNG, absolute)
CHECKPOINT = "checkpoint"  # step, path
DONE = "done"  # run_dir, mesh (Blender-ready .npz), glb, elapsed_s, and optional extras
ERROR = "error"  # message (for a person), kind (machine-readable), log (optional)
CANCELLED = "cancelled"  # step, checkpoint
RESULT = "result"  # payload of one-shot commands (doctor, models, vocabulary)
BATCH = "batch"  # engine batch: total, done, failed, cancelled, pending, and the prompt that changed
# Something the user should know before or during a run that does not stop it: message (for a person), kind
# (machine-readable: "cpu_cost" for a learned prior on a CPU, after its first step, with seconds_per_step, steps
# (those left) and hours), extras by kind.
WARNING = "warning"
CONFIG = "config"  # generate --dry-run: config (every resolved setting, as config.json holds them), recipe (its name)

EVENTS = (STARTED, STAGE, PROGRESS, PREVIEW, CHECKPOINT, DONE, ERROR, CANCELLED, RESULT, BATCH, WARNING, CONFIG)

# Commands a client may write on the engine's stdin, one per line.
STOP_COMMAND = "stop"

# The longest prompt ``generate`` accepts (after collapsing whitespace); clients refuse longer ones before starting.
MAX_PROMPT_CHARS = 300
# The oldest Python the engine runs on: the doctor reports an older one, the add-on refuses it as Engine Python.
MIN_PYTHON = (3, 10)


def encode(event: str, **fields: Any) -> str:
    """One protocol line (no newline) for ``event`` with ``fields``."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    return json.dumps({"event": event, "protocol": PROTOCOL_VERSION, **fields}, sort_keys=False)


def emit(event: str, stream: IO[str] | None = None, **fields: Any) -> None:
    """Write one event line and flush, so a reading client sees it at once."""
    EventWriter(stream)(event, **fields)


class ProtocolError(ValueError):
    """A line that is not a protocol event of a version this client understands."""


def decode(line: str) -> dict[str, Any]:
    """Parse one line from the engine; raises ProtocolError for anything else."""
    try:
        message = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {line[:200]!r}") from exc
    if not isinstance(message, dict) or "event" not in message:
        raise ProtocolError(f"not an event: {line[:200]!r}")
    version = message.get("protocol")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"engine speaks protocol {version!r}, this client speaks {PROTOCOL_VERSION}; "
            "update the engine and the extension together"
        )
    return message


class EventWriter:
    """Emits events on a stream and appends each line to a run's ``log.jsonl``.

    A stream whose reader has gone (the client died and its end of the pipe closed) is not an error:
    ``on_closed`` is called once (the engine then stops as it does when its stdin closes), the stream's file
    is pointed at the null device so nothing else meets the dead pipe (a traceback included), and every
    event still reaches the log. A log that cannot be appended to (a full disk) is given up; the stream
    still gets every event.
    """

    def __init__(
        self, stream: IO[str] | None = None, log_path: str | None = None, on_closed: Callable[[], None] | None = None
    ) -> None:
        self.stream = stream
        self.log_path = log_path
        self.on_closed = on_closed
        self.reader_gone = False

    def __call__(self, event: str, **fields: Any) -> None:
        line = encode(event, **fields)
        if not self.reader_gone:
            out = self.stream if self.stream is not None else sys.stdout
            try:
                if out is None:  # started with its stdout closed
                    raise OSError(errno.EBADF, "the standard output is closed")
                out.write(line + "\n")
                out.flush()
            except OSError as exc:
                self._reader_left(out, exc)
        if self.log_path is not None:
            try:
                with open_file(self.log_path, "a") as log:
                    log.write(line + "\n")
            except OSError:
                self.log_path = None

    def _reader_left(self, out: IO[str] | None, exc: OSError) -> None:
        self.reader_gone = True
        if exc.errno not in _READER_GONE_ERRNOS:  # not a reader that went away: a full or closed stdout
            _LOST_OUTPUT.setdefault("reason", exc.strerror or str(exc))
        if out is not None:
            silence_closed_pipe(out)
        if self.on_closed is not None:
            self.on_closed()


_READER_GONE_ERRNOS = (errno.EPIPE, errno.ECONNRESET, errno.EINVAL)  # EINVAL: a closed pipe on Windows
_LOST_OUTPUT: dict[str, str] = {}


def lost_output() -> str | None:
    """Why events could not be written to stdout (a full device, a closed stdout); None when every one was, or
    when only a reader that went away missed them."""
    return _LOST_OUTPUT.get("reason")


def silence_closed_pipe(stream: IO[str]) -> None:
    """Point ``stream``'s file (and stderr, when it is the same pipe) at the null device."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return  # not a real file (a test's StringIO): nothing else writes to it
    targets = [fd]
    try:
        same = os.path.sameopenfile(fd, sys.__stderr__.fileno()) if sys.__stderr__ is not None else False
    except (OSError, ValueError):
        same = False
    if same:
        targets.append(sys.__stderr__.fileno())
    null = os.open(os.devnull, os.O_WRONLY)
    for target in targets:
        os.dup2(null, target)
    os.close(null)
