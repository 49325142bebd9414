"""The reliability benchmark's results: its payload (each interruption cycle, each bad input, and their summary) and
its report section.

bench/reliability.py runs the cycles and the bad-input matrix and writes this payload; the report reads it here
without the runner.
"""

from __future__ import annotations

from dataclasses import dataclass

from .payload import Measured, Payload
from .report_page import Page, machine_text, num, table
from .results_file import RELIABILITY
from .targets import targets_of


@dataclass(frozen=True)
class Cycle:
    way: str
    phase: str  # "prior" | "optimize" | "mesh": where the interruption landed
    exit_code: int | None  # None: it did not exit (an orphan, killed by the benchmark)
    stop_to_exit_s: float | None
    reported_step: int  # the last step the run reported before the interruption
    checkpoint_step: int | None  # the step its checkpoint holds after it
    lost_steps: int
    resumed: bool  # the resume reached `done` with a mesh
    damaged: list[str]  # partial or moved-aside files left in the run folder or the cache, unreadable cache files


@dataclass(frozen=True)
class BadInput:
    name: str
    exit_code: int
    kind: str | None
    message: str | None
    traceback: bool
    damaged: bool  # a run folder left behind (a new run) or changed (a resume)
    hung: bool = False  # still running after bench/reliability.py's MATRIX_TIMEOUT_S (then killed)


@dataclass
class Counts:
    """What a group of cycles (one way, or one way in one phase) came to."""

    cycles: int
    orphans: int
    exit_codes: list[int]
    lost_steps: int
    lost_runs: int
    damaged_files: int
    stop_to_exit_max_s: float | None


@dataclass
class Summary:
    per_way: dict[str, Counts]
    per_phase: dict[str, Counts]  # by "phase, way"
    orphans: int
    lost_runs: int
    lost_steps_polite: int
    internal_errors: int
    matrix_tracebacks: int
    matrix_damaged: int
    matrix_hung: int
    matrix_defects: int


@dataclass
class ReliabilityPayload(Payload):
    """reliability.json."""

    steps: int
    summary: Summary
    cycles: list[Cycle]
    matrix: list[BadInput]


def reliability_section(page: Page, measured: Measured[ReliabilityPayload]) -> None:
    data, summary = measured.payload, measured.payload.summary
    measured_text = ", ".join(
        f"{getattr(summary, key)} {label}"
        for key, label in (
            ("orphans", "orphans"),
            ("lost_runs", "lost runs"),
            ("internal_errors", "internal errors"),
            ("lost_steps_polite", "steps lost by polite stops"),
            ("matrix_tracebacks", "tracebacks in the matrix"),
            ("matrix_damaged", "damaged run folders in the matrix"),
            ("matrix_hung", "hangs in the matrix"),
            ("matrix_defects", "defects in the matrix"),
        )
    )
    targets = ", ".join(f"{t.threshold:g} {t.metric}" for t in targets_of(RELIABILITY.kind))
    page.add(
        f"From `bench/reliability.py` on {machine_text(measured.envelope.machine)}: {len(data.cycles)} cycles of a "
        f"{data.steps}-step run interrupted one of four ways while its prior prepared (the text-only prior, "
        f"a cold cache), while it optimized or while it meshed, then resumed to its mesh; {len(data.matrix)} bad "
        "inputs, among them links and FIFOs in a run folder, --out at a folder of the user's, running out of CPU "
        "memory, bad ledger lines, a batch's own bad flags and a resume without its checkpoint (a defect: anything "
        "but exit 2 with the expected kind's sentence, no traceback, no hang, nothing changed). "
        f"Target: {targets}. Measured: {measured_text}."
    )
    rows = [
        [
            *key.split(", "),
            str(w.cycles),
            str(w.orphans),
            ", ".join(map(str, w.exit_codes)),
            str(w.lost_steps),
            str(w.lost_runs),
            str(w.damaged_files),
            num(w.stop_to_exit_max_s, 2),
        ]
        for key, w in summary.per_phase.items()
    ]
    header = ["phase", "way", "cycles", "orphans", "exit codes", "lost steps", "lost runs", "damaged files"]
    page.add(*table([*header, "stop-to-exit max (s)"], rows))
    page.add(
        "A kill loses the steps after the last periodic checkpoint (every 10 steps here); a polite stop none. "
        "Damaged files count partial or moved-aside files in the run folder or the prior's cache, and cached "
        "files that do not open."
    )
    matrix = [
        [b.name.replace("|", "/"), str(b.exit_code), b.kind or "-", "yes" if b.traceback else "no",
         "yes" if b.damaged else "no"]
        for b in data.matrix
    ]  # fmt: skip
    page.add(*table(["bad input", "exit", "kind", "traceback", "damaged"], matrix))
