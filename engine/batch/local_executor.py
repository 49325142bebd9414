"""The ``local`` executor: one prompt at a time, on this machine, in the order of the list."""

from __future__ import annotations

import threading

from .executor import OnEvent, OnOutcome
from .prompt_run import PromptJob, run_prompt


class LocalExecutor:
    name = "local"

    def run(self, jobs: list[PromptJob], on_event: OnEvent, on_outcome: OnOutcome, stop: threading.Event) -> None:
        for job in jobs:
            if stop.is_set():
                return
            on_event(job.index, {"event": "running"})
            outcome = run_prompt(job, stop, lambda event, index=job.index: on_event(index, event))
            on_outcome(job.index, outcome)

    def close(self) -> None:
        """Nothing to release."""
