"""Open a file in a run folder without following a link and without blocking: the one way the engine and the
add-on open what a run folder holds.

A run folder is the user's disk: a ``.lock`` that is a symbolic link to their file, or a ``log.jsonl`` that is a
FIFO, must neither be written through (data lost outside the folder) nor wait for a writer that never comes
(an engine that ignores SIGTERM, a frozen Blender). Every open here adds ``O_NOFOLLOW | O_NONBLOCK`` and then
checks with ``fstat`` that it got a regular file; anything else is a ``SpecialFileError`` whose message is one
sentence. It is an ``OSError``, so a caller that already handles an unreadable file handles this one too.
Standard library only: the add-on imports it inside Blender.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO

_SAFE = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_FLAGS = {
    "r": os.O_RDONLY,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "r+": os.O_RDWR | os.O_CREAT,  # created when missing, never truncated (a lock file)
}


class SpecialFileError(OSError):
    """A path in a run folder that is a link, a FIFO, a device or a folder where a regular file belongs."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(
            errno.EINVAL,
            f"{path} is {what}, not a regular file; a run folder holds only the engine's own files: "
            "remove or rename it and try again",
        )
        self.path = path

    def __str__(self) -> str:
        return str(self.strerror)


def describe(mode: int) -> str:
    """What a file of ``mode`` (``st_mode``) is, in words, for the sentence."""
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((words for test, words in kinds if test(mode)), "a special file")


def open_fd(path: Path | str, mode: str = "r") -> int:
    """A file descriptor of the regular file ``path`` opened for ``mode`` ("r", "a" or "r+")."""
    path = Path(path)
    try:
        fd = os.open(path, _FLAGS[mode] | _SAFE | _BINARY, 0o666)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.EISDIR):  # a link, a reader-less FIFO, a folder
            with_status = os.lstat(path)
            raise SpecialFileError(path, describe(with_status.st_mode)) from None
        raise
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        os.close(fd)
        raise SpecialFileError(path, describe(status.st_mode))
    return fd


def open_file(path: Path | str, mode: str = "r", encoding: str | None = "utf-8") -> IO:
    """``open()`` for a run folder's file: "r" / "a" / "r+" as text, "rb" / "ab" / "r+b" as bytes."""
    binary = mode.endswith("b")
    fd = open_fd(path, mode.removesuffix("b"))
    return os.fdopen(fd, mode, encoding=None if binary else encoding)


def read_bytes(path: Path | str) -> bytes:
    with open_file(path, "rb") as handle:
        return handle.read()


def read_text(path: Path | str) -> str:
    with open_file(path, "r") as handle:
        return handle.read()


def is_regular_file(path: Path | str) -> bool:
    """Whether ``path`` itself (not what a link points at) is a regular file: for a file another program opens
    by its name (Blender loading a PNG), which must not be a link out of the folder or a FIFO that blocks it."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def special_entries(folder: Path) -> list[tuple[Path, str]]:
    """Every entry under ``folder`` (its subfolders included, not followed) that is neither a regular file nor a
    folder, with what it is: what a run folder must not hold before an engine opens its files."""
    found: list[tuple[Path, str]] = []
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            entry = Path(root) / name
            mode = os.lstat(entry).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                found.append((entry, describe(mode)))
    return found


def check_folder(folder: Path) -> None:
    """Raise SpecialFileError for the first link or special file under ``folder``."""
    for entry, what in special_entries(folder):
        raise SpecialFileError(entry, what)
