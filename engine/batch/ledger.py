"""``DIR/batch.jsonl``: one line per prompt saying what became of it, rewritten atomically on each change.

A line is a ``PromptRecord``. The ledger is what a second run of the same command reads to continue
(done prompts are skipped, cancelled or crashed ones resume from their checkpoint, prompts that failed
on their input are not tried again) and what Blender reads to import a batch made elsewhere.
Standard library only: the add-on reads it too.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path

from ..atomic_write import write_text
from ..run_files import read_text

LEDGER_FILE = "batch.jsonl"
LEDGER_VERSION = 1
# Error kinds that come back the same on every try (the prompt or a setting is wrong): not retried.
FINAL_ERROR_KINDS = ("input", "prompt", "prior", "device", "checkpoint")


class PromptStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class LedgerError(ValueError):
    """A ledger that cannot be read, or that belongs to another prompt list."""


@dataclass
class PromptRecord:
    index: int
    prompt: str
    status: PromptStatus = PromptStatus.PENDING
    run_dir: str = ""  # relative to the batch folder
    mesh: str = ""  # relative to the batch folder, once done
    seconds: float = 0.0  # wall time of the engine runs of this prompt, all attempts together
    executor: str = ""  # "local" | "ray"
    machine: str = ""  # host name the last attempt ran on
    error: str = ""  # the engine's sentence, when failed
    kind: str = ""  # the engine's error kind, when failed
    attempts: int = 0
    step: int = 0  # last step reported (cancelled runs resume from their checkpoint)
    version: int = LEDGER_VERSION

    @property
    def retryable(self) -> bool:
        """Another run of the batch tries this prompt again (resuming where it can)."""
        if self.status is PromptStatus.DONE:
            return False
        return not (self.status is PromptStatus.FAILED and self.kind in FINAL_ERROR_KINDS)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> PromptRecord:
        """A record from its line; ValueError naming the first field that is not what the ledger writes."""
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        if "index" not in data or "prompt" not in data:
            raise ValueError("it has no index or no prompt")
        known = {f.name: f for f in fields(cls)}
        for key, value in data.items():
            if key in known and not _is_kind(value, _FIELD_KINDS[key]):
                raise ValueError(f"its {key} is {json.dumps(value)[:40]}")
        if data["index"] < 0:
            raise ValueError(f"its index is {data['index']}")
        try:
            status = PromptStatus(data.get("status", PromptStatus.PENDING))
        except ValueError:
            raise ValueError(f"its status {json.dumps(data['status'])[:40]} is not one of the ledger's") from None
        record = cls(**{key: value for key, value in data.items() if key in known})
        record.status = status
        return record


_FIELD_KINDS: dict[str, tuple[type, ...]] = {
    "index": (int,),
    "prompt": (str,),
    "status": (str,),
    "run_dir": (str,),
    "mesh": (str,),
    "seconds": (int, float),
    "executor": (str,),
    "machine": (str,),
    "error": (str,),
    "kind": (str,),
    "attempts": (int,),
    "step": (int,),
    "version": (int,),
}


def _is_kind(value: object, kinds: tuple[type, ...]) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool)


def read_ledger(batch_dir: Path) -> list[PromptRecord]:
    """The ledger's records in prompt order; [] when the batch has not run yet."""
    path = Path(batch_dir) / LEDGER_FILE
    if not os.path.lexists(path):
        return []
    records = []
    try:
        for number, line in enumerate(read_text(path).splitlines(), start=1):
            if line.strip():
                try:
                    records.append(PromptRecord.from_json(line))
                except (ValueError, TypeError) as exc:
                    raise LedgerError(f"{path}, line {number}, is not a batch record ({exc})") from exc
    except OSError as exc:
        raise LedgerError(f"cannot read {path} ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise LedgerError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return sorted(records, key=lambda record: record.index)


def write_ledger(batch_dir: Path, records: list[PromptRecord]) -> Path:
    return write_text(Path(batch_dir) / LEDGER_FILE, "".join(r.to_json() + "\n" for r in records))
