"""The versioned wire protocol between the engine process and its clients (the Blender add-on).

The engine writes one JSON object per line on stdout; every object has ``"event"`` and
``"protocol"``. Clients write plain command lines on the engine's stdin (``stop``).
Standard library only: the add-on imports this module inside Blender.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

PROTOCOL_VERSION = 1

# Events the engine emits, in the order a run emits them.
STARTED = "started"  # run_dir, prompt, prior, total, device
STAGE = "stage"  # name ("prior", "optimize", "mesh", "bake", "export"), message
PROGRESS = "progress"  # step, total, loss, losses (weighted terms by name), it_per_s, eta_s, mode
PREVIEW = "preview"  # step, path (PNG, absolute)
CHECKPOINT = "checkpoint"  # step, path
DONE = "done"  # run_dir, mesh (Blender-ready .npz), glb, elapsed_s, and optional extras
ERROR = "error"  # message (for a person), kind (machine-readable), log (optional)
CANCELLED = "cancelled"  # step, checkpoint
RESULT = "result"  # payload of one-shot commands (doctor, models, vocabulary)
BATCH = "batch"  # engine batch: total, done, failed, cancelled, pending, and the prompt that changed

EVENTS = (STARTED, STAGE, PROGRESS, PREVIEW, CHECKPOINT, DONE, ERROR, CANCELLED, RESULT, BATCH)

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
    """Emits events on a stream and appends each line to a run's ``log.jsonl``."""

    def __init__(self, stream: IO[str] | None = None, log_path: str | None = None) -> None:
        self.stream = stream
        self.log_path = log_path

    def __call__(self, event: str, **fields: Any) -> None:
        line = encode(event, **fields)
        out = self.stream if self.stream is not None else sys.stdout
        out.write(line + "\n")
        out.flush()
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(line + "\n")
