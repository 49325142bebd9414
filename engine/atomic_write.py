"""Write to a partial file, then replace: the one way this project writes a file someone may be reading.

A reader (Blender, a resumed run, the report) sees the old file or the new one, never half of one. A
write that fails (a full disk, an exception in the writer) removes its partial and leaves the old
file as it was; only a hard kill can leave a ``.partial`` behind, and the next write replaces it.
Folders work the same way (a checkpoint, a staging folder): the old folder is moved aside as
``.old`` for the instant between the two renames, so a reader finds one or the other.
Standard library only: the add-on and the benchmarks use it too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

PARTIAL_SUFFIX = ".partial"
OLD_SUFFIX = ".old"


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
    except BaseException:
        remove(partial)
        raise


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
