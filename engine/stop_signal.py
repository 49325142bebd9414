"""Polite cancellation: SIGINT, SIGTERM or a ``stop`` line on stdin all set one flag that the
training loop checks between steps, so it can checkpoint and exit cleanly. When stdin is a pipe
from a parent (the Blender add-on) and that pipe closes, the parent is gone: stop too, so a
crashed Blender never leaves an orphan engine running."""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
from typing import IO

from .protocol import STOP_COMMAND


class StopSignal:
    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, *_: object) -> None:
        self._event.set()

    def install(self, stdin: IO[str] | None = None) -> StopSignal:
        """Route SIGINT/SIGTERM and stdin ``stop`` lines to this flag (main thread only)."""
        self.install_handlers()
        source = stdin if stdin is not None else sys.stdin
        if source is not None and not source.isatty():
            threading.Thread(target=self._watch, args=(source,), daemon=True, name="stdin-stop").start()
        return self

    def install_handlers(self) -> None:
        """Route SIGINT/SIGTERM to this flag again, after a library (Ray) replaced the handlers (main thread only)."""
        signal.signal(signal.SIGINT, self.request)
        signal.signal(signal.SIGTERM, self.request)

    def _watch(self, source: IO[str]) -> None:
        for line in source:
            if line.strip() == STOP_COMMAND:
                self.request()
                return
        if _is_pipe(source):
            self.request()


def _is_pipe(source: IO[str]) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(source.fileno()).st_mode)
    except (OSError, ValueError):
        return False
