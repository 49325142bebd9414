"""A one-line progress bar for a person watching ``engine batch`` in a terminal (on stderr)."""

from __future__ import annotations

import shutil
from typing import IO

BAR_CELLS = 24


class ProgressBar:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.enabled = stream.isatty()

    def show(self, finished: int, total: int, detail: str) -> None:
        if not self.enabled:
            return
        filled = round(BAR_CELLS * finished / max(total, 1))
        line = f"[{'#' * filled}{'.' * (BAR_CELLS - filled)}] {finished}/{total} {detail}"
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r" + line[:width].ljust(width))
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
