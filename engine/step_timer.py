"""Where a step's time goes: rendering, the prior, and the backward pass with the update.

A step's work on a GPU is queued, not done, when Python moves on, so wall-clock laps would charge
everything to whichever line waits first. On CUDA each lap records an event in the stream instead (no
synchronization inside the step) and the events are read when the totals are asked for, which the
trainer does only when it reports progress and has waited for the loss anyway. Elsewhere laps are wall
clock (exact on the CPU; on MPS, queued work is charged to the lap that waits).
"""

from __future__ import annotations

import time

import torch

RENDER, PRIOR, UPDATE = "render", "prior", "update"  # the phases of a training step, in order


class StepTimer:
    """Seconds per named phase, summed over the steps timed; ``start`` a step, then ``lap`` after each phase."""

    def __init__(self, device: torch.device) -> None:
        self._cuda = device.type == "cuda"
        self._totals: dict[str, float] = {}
        self._pending: list[tuple[str, torch.cuda.Event, torch.cuda.Event]] = []
        self._mark: torch.cuda.Event | float | None = None

    def _now(self) -> torch.cuda.Event | float:
        if not self._cuda:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def start(self) -> None:
        self._mark = self._now()

    def lap(self, phase: str) -> None:
        """Charge the time since the last mark to ``phase``."""
        if self._mark is None:
            raise RuntimeError("StepTimer.lap before start")
        now = self._now()
        if isinstance(now, float) and isinstance(self._mark, float):
            self._totals[phase] = self._totals.get(phase, 0.0) + now - self._mark
        elif isinstance(now, torch.cuda.Event) and isinstance(self._mark, torch.cuda.Event):
            self._pending.append((phase, self._mark, now))
        self._mark = now

    def totals(self) -> dict[str, float]:
        """Seconds per phase so far (waits for the laps still queued on the GPU)."""
        if self._pending:
            self._pending[-1][2].synchronize()
            for phase, begin, end in self._pending:
                self._totals[phase] = self._totals.get(phase, 0.0) + begin.elapsed_time(end) / 1000.0
            self._pending.clear()
        return dict(self._totals)
