"""Write to a partial file, then replace: the one way this project writes a file someone may be reading.

A reader (Blender, a resumed run, the report) sees the old file or the new one, never half of one. A
write that fails (a full disk, an exception in the writer) removes its partial and leaves the old
file as it was; only a hard kill can leave a ``.partial`` behind, and the next write replaces it.
A full disk is an expected failure: it becomes an EngineError (kind "output") that says so and names the
folder, whichever writer met it (``write_error``).
Folders work the same way (a checkpoint, a staging folder): the old folder is moved aside as
``.old`` for the instant between the two renames, so a reader finds one or the other.
Standard library only: the add-on and the benchmarks use it too.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import EngineError

PARTIAL_SUFFIX = ".partial"
OLD_SUFFIX = ".old"
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# Writers that wrap the OS error in their own (safetensors) keep its text.
_DISK_FULL_WORDS = (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))


def partial_path(path: Path) -> Path:
    """The sibling that a write of ``path`` goes to first."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def old_path(path: Path) -> Path:
    """Where a folder being replaced waits between the two renames (and where a crash there leaves it)."""
    return path.with_name(path.name + OLD_SUFFIX)


@contextmanager
def replacing(path: Path | str) -> Iterator[Path]:
    """Yield the partial path to write (a file, or a folder the block creates); when the block ends
    it replaces ``path``, and when the block raises it is removed and ``path`` is left untouched."""
    path = Path(path)
    partial = partial_path(path)
    remove(partial)
    try:
        yield partial
        if partial.is_dir() and path.is_dir():
            old = old_path(path)
            remove(old)
            os.replace(path, old)
            os.replace(partial, path)
            remove(old)
        else:
            os.replace(partial, path)
    except BaseException as exc:
        remove(partial)
        if is_disk_full(exc):
            raise write_error(exc, path.parent) from exc
        raise


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an error it was raised from, is the disk running out of space (or quota)."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        if any(words in str(exc) for words in _DISK_FULL_WORDS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def write_error(exc: BaseException, folder: Path) -> EngineError:
    """The sentence for a write in ``folder`` that failed with ``exc``: a full disk says so."""
    if is_disk_full(exc):
        return EngineError(
            f"the disk is full: nothing more can be written in {folder}; free some space on that disk and try again "
            "(what was saved before is intact)",
            "output",
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return EngineError(f"cannot write in {folder} ({reason}); choose a writable folder", "output")


def write_text(path: Path | str, text: str) -> Path:
    """``path`` with ``text`` (UTF-8), atomically."""
    with replacing(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: Path | str, data: bytes) -> Path:
    """``path`` with ``data``, atomically."""
    with replacing(path) as partial:
        partial.write_bytes(data)
    return Path(path)


def remove(path: Path) -> None:
    """Delete a file or folder if it is there."""
    with suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
