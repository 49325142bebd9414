"""A batch folder made by ``engine batch`` (here, or on a cluster's shared folder), read for import (no bpy).

The ledger ``batch.jsonl`` says which prompts are done and where their meshes are (relative to the
folder, so a folder copied off a cluster still reads); each run folder's ``log.jsonl`` and
``config.json`` give what the history shows (prior, steps, seed, threshold), and its newest preview
PNG becomes the asset's thumbnail. Paths the engine wrote on another machine are never followed:
everything is found again under the folder that was picked, and a path the ledger names that leads out of it
(absolute, ``../``, a link) is refused for that prompt alone. Files are opened as every run folder's are
(``engine/run_files.py``: no link followed, no FIFO waited on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..engine.batch.ledger import LEDGER_FILE, LedgerError, PromptRecord, PromptStatus, read_ledger
from ..engine.run_files import is_regular_file, read_text
from .command_line import RequestError
from .history import RunRecord

PREVIEWS = "previews"
RUN_LOG = "log.jsonl"
RUN_CONFIG = "config.json"


@dataclass(frozen=True)
class BatchFolder:
    path: Path
    records: list[PromptRecord]

    def done(self) -> list[PromptRecord]:
        return [record for record in self.records if record.status is PromptStatus.DONE and record.mesh]

    def summary(self) -> str:
        """ "3 prompts: 2 done, 1 failed" (every status present, in the ledger's order of statuses)."""
        counts = {status: 0 for status in PromptStatus}
        for record in self.records:
            counts[record.status] += 1
        parts = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
        return f"{len(self.records)} prompts: {parts}"

    def run_record(self, record: PromptRecord, created: datetime) -> RunRecord:
        """The history's record of a done prompt, its files found under this folder (a RequestError for a path
        that leads out of it)."""
        run_dir = self.inside(record.run_dir)
        mesh = self.inside(record.mesh)
        started = _last_event(run_dir, "started")
        done = _last_event(run_dir, "done")
        glb = Path(str(done.get("glb") or "")).name
        return RunRecord(
            prompt=record.prompt,
            created=f"{created:%Y-%m-%d %H:%M}",
            run_dir=str(run_dir),
            mesh=str(mesh),
            glb=str(run_dir / glb) if glb else "",
            thumbnail=str(newest_preview(run_dir) or ""),
            prior=str(started.get("prior") or ""),
            steps=int(done.get("steps") or record.step),
            seed=int(_run_config(run_dir).get("seed") or 0),
            elapsed_s=float(record.seconds),
            threshold=float(done.get("threshold") or 0.0),
        )

    def inside(self, relative: str) -> Path:
        """``relative`` (from the ledger) under this folder; a RequestError when it leads anywhere else."""
        path = self.path / relative
        try:
            path.resolve().relative_to(self.path)
        except (ValueError, OSError):
            raise RequestError(f"the ledger names {relative!r}, which lies outside {self.path}") from None
        if Path(relative).is_absolute() or ".." in Path(relative).parts or not relative:
            raise RequestError(f"the ledger names {relative!r}, which is not a path inside {self.path}")
        return path


def read_batch_folder(path: Path) -> BatchFolder:
    """The batch in ``path`` (the folder, or its batch.jsonl); a RequestError saying what to pick instead."""
    path = Path(path).expanduser()
    folder = path.parent if path.name == LEDGER_FILE else path
    if not (folder / LEDGER_FILE).is_file():
        raise RequestError(f"{folder} holds no {LEDGER_FILE}; pick the folder that `engine batch --out` wrote.")
    try:
        records = read_ledger(folder)
    except LedgerError as exc:
        raise RequestError(f"The batch cannot be read: {exc}.") from exc
    return BatchFolder(folder.resolve(), records)


def newest_preview(run_dir: Path) -> Path | None:
    """The run's last preview PNG (``previews/step_NNNNNN.png``), None when it wrote none."""
    previews = sorted(path for path in (run_dir / PREVIEWS).glob("step_*.png") if is_regular_file(path))
    return previews[-1] if previews else None


def _last_event(run_dir: Path, name: str) -> dict[str, Any]:
    """The last ``name`` event of the run's log.jsonl; {} when the log or the event is missing or unreadable."""
    try:
        lines = read_text(run_dir / RUN_LOG).splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    for line in reversed(lines):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("event") == name:
            return event
    return {}


def _run_config(run_dir: Path) -> dict[str, Any]:
    try:
        config = json.loads(read_text(run_dir / RUN_CONFIG))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}
