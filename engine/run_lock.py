"""One engine process per run folder: an OS file lock held for the whole run.

``generate``, ``--resume`` and ``remesh`` take the lock on ``RUN_DIR/.lock`` before they write anything.
The operating system drops the lock when the process ends, however it ends (a kill included), so a stale
lock never blocks a later run; a second process on a locked folder gets a sentence, not a race.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from pathlib import Path
from typing import IO

from .atomic_write import write_error
from .errors import EngineError
from .run_files import SpecialFileError, open_file

LOCK_FILE = ".lock"

if os.name == "posix":
    import fcntl

    def _try_lock(handle: IO[str]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

else:  # Windows
    import msvcrt

    def _try_lock(handle: IO[str]) -> bool:
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True


class RunLock:
    """The lock of one run folder; ``acquire`` raises EngineError(kind "busy") when another process holds it."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._handle: IO[str] | None = None

    def acquire(self, wait_s: float = 0.0) -> RunLock:
        """Take the lock, waiting up to ``wait_s`` seconds for another process to let it go."""
        deadline = time.monotonic() + wait_s
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open_file(self.path, "r+")  # never through a link, never a FIFO; held until release
        except SpecialFileError:
            raise
        except OSError as exc:
            raise write_error(exc, self.path.parent) from exc
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                handle.close()
                raise EngineError(
                    f"{self.path.parent} is in use by another engine process; wait for it to finish or stop it first",
                    "busy",
                )
            time.sleep(0.1)
        with suppress(OSError):  # the holder's pid is for people only: a full disk must not fail the lock
            os.ftruncate(handle.fileno(), 0)
            os.lseek(handle.fileno(), 0, os.SEEK_SET)
            os.write(handle.fileno(), f"{os.getpid()}\n".encode())
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the lock
            self._handle = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
