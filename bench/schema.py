"""The results files' envelope: a schema version, what produced them, on which machine, and when.

The report reads only files whose schema it knows, so a stale or foreign file is reported as such
instead of being misread.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.atomic_write import write_text

from .machine import machine_info

SCHEMA_VERSION = 1


class ResultFileError(ValueError):
    """A results file that exists but cannot be used (unreadable, another schema, another kind)."""


def envelope(kind: str, payload: dict[str, Any], command: list[str] | None = None) -> dict[str, Any]:
    """``payload`` wrapped with the schema version, the command line, the machine and the time."""
    return {
        "schema": SCHEMA_VERSION,
        "kind": kind,
        "command": " ".join(
            command if command is not None else [Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]
        ),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        **payload,
    }


def write_result(path: Path, data: dict[str, Any]) -> Path:
    """Write atomically, so an interrupted benchmark never leaves a half-written file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text(path, json.dumps(data, indent=2) + "\n")


def read_result(path: Path, kind: str) -> dict[str, Any] | None:
    """The results of ``kind`` at ``path``; None when the benchmark has not been run."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path} is not readable JSON ({exc}); run the benchmark again") from exc
    if not isinstance(data, dict) or data.get("kind") != kind or data.get("schema") != SCHEMA_VERSION:
        raise ResultFileError(
            f"{path} is not {kind} results of schema {SCHEMA_VERSION}; run the benchmark again to replace it"
        )
    return data
