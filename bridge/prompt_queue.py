"""Blender's queue of prompts without bpy: what goes in (typed, pasted, a file), and what became of each.

Pasted text and loaded files are read as the PROMPTS file of ``engine batch`` (one prompt a line, or
JSON lines with seed, preset, prior and steps), by the engine's own reader, so a list made for a
cluster can be queued in Blender and the other way round. Everything a line says is checked when it
is added (the prompt's words only when it runs, so one prompt the prior cannot read fails alone); a
mistake names its line and adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from ..engine.batch.prompt_list import BatchItem, parse_prompt_list, read_prompt_list
from ..engine.batch.prompt_run import has_checkpoint
from ..engine.errors import EngineError
from .command_line import GenerateRequest, RequestError, checked_prompt
from .run_state import RunState, RunStatus

PASTED = "the pasted text"
LARGEST_NUMBER = 2**31 - 1  # what a Blender integer property holds (seed, steps)


class QueueStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped, with a checkpoint when it got that far: the queue's next run resumes it

    @property
    def runnable(self) -> bool:
        """The next run of the queue runs (or resumes) an item in this status."""
        return self in (QueueStatus.QUEUED, QueueStatus.CANCELLED)


@dataclass(frozen=True)
class QueueEntry:
    """One prompt of the queue with what its line chose; None: the panel's setting when it runs."""

    prompt: str
    seed: int | None = None
    preset: str | None = None
    prior: str | None = None
    steps: int | None = None

    def request(self, panel: GenerateRequest) -> GenerateRequest:
        """The panel's request with this entry's prompt and choices (another prior: that prior's own model)."""
        chosen = {"seed": self.seed, "preset": self.preset, "prior": self.prior, "steps": self.steps}
        changes = {key: value for key, value in chosen.items() if value is not None}
        if self.prior is not None and self.prior != panel.prior:
            changes["model"] = ""
        return replace(panel, prompt=self.prompt, **changes)

    def summary(self) -> str:
        """What this entry sets apart from the panel, e.g. "seed 3, fast, 400 steps"; "" for nothing."""
        parts = [f"seed {self.seed}" if self.seed is not None else "", self.preset or "", self.prior or ""]
        parts.append(f"{self.steps} steps" if self.steps is not None else "")
        return ", ".join(part for part in parts if part)


def typed_entry(prompt: str) -> QueueEntry:
    """The panel's own prompt as an entry (taken as it is, never read as a JSON line or a comment)."""
    return QueueEntry(checked_prompt(prompt))


def entries_from_text(text: str) -> list[QueueEntry]:
    """The entries of pasted text; a RequestError naming the line of the first mistake."""
    return _entries(lambda: parse_prompt_list(text, PASTED, PASTED), PASTED)


def entries_from_file(path: Path) -> list[QueueEntry]:
    """The entries of a prompt list file; a RequestError naming the line of the first mistake."""
    return _entries(lambda: read_prompt_list(path), Path(path).name)


def can_resume(run_dir: str) -> bool:
    """An earlier run of the item left a checkpoint to continue from."""
    return bool(run_dir) and has_checkpoint(Path(run_dir))


def shown_status(saved: str, running_now: bool) -> QueueStatus:
    """An item's status as it is: one saved as running that no engine runs now (Blender stopped) was cancelled."""
    status = QueueStatus(saved)
    return QueueStatus.CANCELLED if status is QueueStatus.RUNNING and not running_now else status


def outcome(state: RunState) -> tuple[QueueStatus, str]:
    """What a finished run makes of its queue item: the status and the sentence shown with it."""
    if state.status is RunStatus.DONE:
        return QueueStatus.DONE, state.message
    if state.status is RunStatus.CANCELLED:
        where = f"at step {state.cancelled_at_step}" if state.cancelled_at_step is not None else "before it began"
        return QueueStatus.CANCELLED, f"Cancelled {where}; Run Queue continues it"
    return QueueStatus.FAILED, state.error or state.message


def _entries(read: Callable[[], list[BatchItem]], source: str) -> list[QueueEntry]:
    try:
        items = read()
    except EngineError as exc:
        raise RequestError(_sentence(str(exc))) from exc
    for item in items:
        for name, value in (("seed", item.seed), ("steps", item.steps)):
            if value is not None and value > LARGEST_NUMBER:
                raise RequestError(f"In {source}, {item.prompt!r} has {name} {value}; keep it under {LARGEST_NUMBER}.")
    return [QueueEntry(item.prompt, item.seed, item.preset, item.prior, item.steps) for item in items]


def _sentence(message: str) -> str:
    """An engine sentence as the panel shows sentences: capitalized, with a full stop."""
    message = message[:1].upper() + message[1:]
    return message if message.endswith(".") else message + "."
