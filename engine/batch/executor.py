"""What an executor is: it runs prompt jobs somewhere and reports events and outcomes as they come.

Executors are chosen by name (``local``, ``ray``); the batch command owns the ledger, the retries and
the progress, so an executor only runs processes and says what happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from .prompt_run import PromptJob, PromptOutcome

OnEvent = Callable[[int, dict], None]  # (prompt index, an engine event or {"event": "running"})
OnOutcome = Callable[[int, PromptOutcome], None]


class Executor(Protocol):
    name: str

    def run(self, jobs: list[PromptJob], on_event: OnEvent, on_outcome: OnOutcome, stop: threading.Event) -> None:
        """Run every job (or until ``stop``: running ones are asked to checkpoint); call back on the caller's thread."""

    def close(self) -> None:
        """Release what the executor holds (a Ray runtime it started)."""
