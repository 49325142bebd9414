"""numpy archives that carry a ``format_version``: written atomically, read back without pickle.

The run folder's two array files (``mesh.npz``, ``density_grid.npz``) are both this; numpy only, because
the add-on reads ``mesh.npz`` inside Blender.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..atomic_write import write_bytes
from ..run_files import open_file

VERSION_KEY = "format_version"


class FormatVersionError(ValueError):
    """An archive written by another version of its format."""

    def __init__(self, found: int, expected: int) -> None:
        super().__init__(f"format {found}, this version reads {expected}")
        self.found = found
        self.expected = expected


def save(path: Path, version: int, arrays: dict[str, np.ndarray], compressed: bool = False) -> None:
    """``arrays`` behind ``format_version``, written atomically: a crash leaves the previous file, never a partial.

    The archive is built in memory and written in one piece: a zip writer that fails half way (a full disk)
    would leave its own half-closed file behind and complain about it on stderr at exit.
    """
    contents = {VERSION_KEY: np.array(version, dtype=np.int32), **arrays}
    writer = np.savez_compressed if compressed else np.savez
    archive = io.BytesIO()
    writer(archive, **contents)
    write_bytes(path, archive.getvalue())


def load(path: Path, version: int) -> dict[str, np.ndarray]:
    """Every array of the archive but the version, once its version is ``version``.

    Raises FormatVersionError for another version, KeyError without one, SpecialFileError (an OSError) for a
    link or a FIFO, and numpy's and zipfile's own errors for a file that is not an archive.
    """
    with open_file(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
        found = int(data[VERSION_KEY])
        if found != version:
            raise FormatVersionError(found, version)
        return {name: data[name] for name in data.files if name != VERSION_KEY}
