"""A job slot: at most one job at a time, started by an operator, pumped on Blender's main thread, always stopped.

A job is an engine run (``bridge.engine_run.EngineRun``) or a set-up job (``bridge.process_chain.SetupJob``):
both start child processes, fold what they print into a state the panel shows, and can be cancelled
or shut down. The slot holds the running job, or else the last state (what the panel shows next),
and its persistent ``bpy.app.timers`` callback calls ``pump`` a few times a second in the UI. Timers
do not fire in background mode (``blender -b``, the ``bpy`` module), so scripts and tests call
``pump`` themselves until it returns False.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import bpy


class ShownState(Protocol):
    """What a slot needs of a job's state (``RunState``, ``JobState``); the panels read the rest."""

    @property
    def finished(self) -> bool: ...

    @property
    def succeeded(self) -> bool: ...


StateT = TypeVar("StateT", bound=ShownState)


class Job(Protocol[StateT]):
    """What a slot needs of a job."""

    @property
    def state(self) -> StateT: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def log_path(self) -> Path | None: ...

    def start(self) -> StateT: ...

    def poll(self) -> StateT: ...

    def cancel(self) -> None: ...

    def shutdown(self) -> None: ...

    def reject_result(self, error: Exception) -> None: ...


OnFinish = Callable[[bpy.types.Context, StateT], None]


@dataclass
class _Running(Generic[StateT]):
    job: Job[StateT]
    on_done: OnFinish  # brings the result in, once the job has succeeded
    on_end: OnFinish | None = None  # after every end (done, failed, cancelled): a queue starts its next job


class JobSlot(Generic[StateT]):
    """One job at a time, with its timer and the redraw of the areas that show it."""

    def __init__(
        self,
        redraw_area: str,
        interval_running_s: float,
        interval_idle_s: float = 0.5,
        on_poll: Callable[[Job[StateT]], None] | None = None,
    ) -> None:
        self.redraw_area = redraw_area  # the area type that shows the job: "VIEW_3D", "PREFERENCES"
        self.interval_running_s = interval_running_s
        self.interval_idle_s = interval_idle_s
        self.on_poll = on_poll  # after each poll, on the main thread (a run shows its new preview)
        self._running: _Running[StateT] | None = None
        self._last: StateT | None = None
        self._log_path: Path | None = None
        self.timer = self._tick  # one bound method, so the timers API sees the same function each time

    def busy(self) -> bool:
        """True while the job's process is alive (a second job is refused until then)."""
        return self._running is not None

    def state(self) -> StateT | None:
        """The running job's state, else the last one's (what the panel shows), else None."""
        return self._running.job.state if self._running is not None else self._last

    def active_pid(self) -> int | None:
        """The running job's process id (for diagnostics and tests), else None."""
        return self._running.job.pid if self._running is not None else None

    def log_path(self) -> Path | None:
        """The log of the running or last started job."""
        return self._log_path

    def start(self, job: Job[StateT], on_done: OnFinish, on_end: OnFinish | None = None) -> StateT:
        """Start ``job`` here; what its start raises (it could not start) reaches the caller.

        ``on_done`` brings a succeeded job's result in; ``on_end`` follows every end, after ``on_done``,
        and may start the next job in this slot.
        """
        if self._running is not None:
            raise RuntimeError("a job is already running in this slot")
        self._log_path = job.log_path
        state = job.start()
        if state.finished:  # its first process could not even start
            self._last = state
        else:
            self._running, self._last = _Running(job, on_done, on_end), None
        self.tag_redraw()
        return state

    def show(self, state: StateT) -> None:
        """Show ``state`` as the last one: a job refused before any process ran (bad settings, no engine)."""
        self._last = state
        self.tag_redraw()

    def cancel(self) -> None:
        """Ask the running job to stop; ``pump`` sees it through."""
        if self._running is not None:
            self._running.job.cancel()
            self.tag_redraw()

    def pump(self) -> bool:
        """Fold in the job's output; once it has succeeded, bring its result in. True while a job runs.

        Call it only from Blender's main thread.
        """
        running = self._running
        if running is None:
            return False
        state = running.job.poll()
        if self.on_poll is not None:
            self.on_poll(running.job)
        if state.finished:
            self._running, self._last = None, state
            if state.succeeded:
                self._bring_in(running)
            if running.on_end is not None:
                self._end(running.on_end, state)
        self.tag_redraw()
        return self._running is not None

    @staticmethod
    def _window_override() -> dict[str, bpy.types.Window]:
        windows = bpy.context.window_manager.windows
        return {"window": windows[0]} if windows else {}

    def _bring_in(self, running: _Running[StateT]) -> None:
        try:
            with bpy.context.temp_override(**self._window_override()):
                running.on_done(bpy.context, running.job.state)
        except Exception as exc:  # the result could not be brought in: say so, leave the scene as it was
            traceback.print_exc()
            running.job.reject_result(exc)

    def _end(self, on_end: OnFinish, state: StateT) -> None:
        try:
            with bpy.context.temp_override(**self._window_override()):
                on_end(bpy.context, state)
        except Exception:  # the job has ended either way; the traceback goes to the console
            traceback.print_exc()

    def shutdown(self) -> None:
        """Stop any running job for good (blocking, a few seconds at most): on unregister, so also on quit."""
        running, self._running = self._running, None
        if running is not None:
            running.job.shutdown()

    def _tick(self) -> float:
        try:
            self.pump()
        except Exception:  # keep the persistent timer alive; the traceback goes to the console
            traceback.print_exc()
        return self.interval_running_s if self.busy() else self.interval_idle_s

    def tag_redraw(self) -> None:
        window_manager = bpy.context.window_manager
        if window_manager is None:
            return
        for window in window_manager.windows:
            for area in window.screen.areas:
                if area.type == self.redraw_area:
                    area.tag_redraw()

    def register(self) -> None:
        bpy.app.timers.register(self.timer, first_interval=self.interval_idle_s, persistent=True)

    def unregister(self) -> None:
        """The timer first, then the job: nothing pumps a job that is being shut down."""
        if bpy.app.timers.is_registered(self.timer):
            bpy.app.timers.unregister(self.timer)
        self.shutdown()
