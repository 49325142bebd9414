"""Stage events with a fraction while long work runs, and the stop check between its units of work.

Preparing a prior (rendering an image set, baking a scene, loading a model's parts) and meshing are loops
over units of work that can take minutes. Each unit reports how much of its stage is done. A report emits a
``stage`` event now and then, so the add-on shows a bar and a client that died is noticed (the write fails:
``engine/protocol.py`` then requests a stop), and raises ``Stopped`` once a stop is requested, so the work
ends between two units and the run ends politely. Work nobody watches takes ``no_progress``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from . import protocol
from .stop_signal import StopSignal

Progress = Callable[[float], None]  # the fraction of one stage's work that is done, 0..1
EVENT_FRACTION_STEP = 0.1  # a stage event at the start, every 10% of the work and once at the end ...
EVENT_INTERVAL_S = 1.0  # ... and at least every second while units end (a dead client is noticed)


class Stopped(Exception):
    """A stop was requested while a stage ran; it ended between two units of work."""


def no_progress(fraction: float) -> None:
    """The progress of work nobody watches (and nobody stops)."""


def span(progress: Progress, start: float, end: float) -> Progress:
    """``progress`` for one part of a stage's work, the part from ``start`` to ``end`` of the whole."""
    return lambda fraction: progress(start + (end - start) * fraction)


class StageProgress:
    """Reports ``(stage, fraction)`` as stage events and raises ``Stopped`` once ``stop`` is requested.

    Stages in ``uninterruptible`` (the files of a mesh, replaced together) only report.
    """

    def __init__(
        self,
        emit: Callable[..., None],
        stop: StopSignal,
        messages: dict[str, str] | None = None,
        uninterruptible: tuple[str, ...] = (),
    ) -> None:
        self.emit = emit
        self.stop = stop
        self.messages = messages or {}
        self.uninterruptible = uninterruptible
        self._reported: dict[str, tuple[float, float]] = {}  # stage -> (fraction, time) of its last event

    def __call__(self, stage: str, fraction: float) -> None:
        last = self._reported.get(stage)
        now = time.monotonic()
        if (
            last is None
            or (fraction >= 1.0 > last[0])
            or fraction - last[0] >= EVENT_FRACTION_STEP
            or now - last[1] >= EVENT_INTERVAL_S
        ):
            self._reported[stage] = (fraction, now)
            message = f"{self.messages.get(stage, stage)} {fraction:.0%}"
            self.emit(protocol.STAGE, name=stage, message=message, fraction=round(fraction, 3))
        if self.stop.requested and stage not in self.uninterruptible:
            raise Stopped

    def of(self, stage: str) -> Progress:
        """The progress of ``stage`` alone."""
        return lambda fraction: self(stage, fraction)
