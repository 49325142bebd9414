"""What every benchmark's report section writes with: the page being written and its table and number formats.

Each benchmark module renders its own section (``section(page, envelope, payload)``) onto a ``Page``;
``bench/report.py`` only assembles them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .machine import Machine
from .results_file import Envelope


@dataclass
class Page:
    """Lines of the report being written, with links relative to where the report will be."""

    results_dir: Path
    report_path: Path
    lines: list[str] = field(default_factory=list)

    @property
    def plots_dir(self) -> Path:
        return self.results_dir / "plots"

    def add(self, *lines: str) -> None:
        """A block (a paragraph, a heading, a table) and the blank line after it."""
        self.lines += [*lines, ""]

    def link(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.report_path.parent)).as_posix()

    def image(self, path: Path | None, alt: str) -> None:
        if path is not None:
            self.add(f"![{alt}]({self.link(path)})")


def num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def machine_text(machine: Machine) -> str:
    return f"{machine.cores} cores, {machine.cpu}, Python {machine.python}, torch {machine.torch}"


def provenance(envelope: Envelope) -> str:
    return f"Command: `{envelope.command}` ({envelope.created}); machine: {machine_text(envelope.machine)}."


def overrides_text(overrides: tuple[tuple[str, object], ...]) -> str:
    """Config overrides as the report shows them."""
    return ", ".join(f"`{key}={value}`" for key, value in overrides) or "none"
