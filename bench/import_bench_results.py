"""The Blender import benchmark's results: its payload (each step's seconds over the repeats) and its report
section.

bench/import_bench.py times the import in bpy and writes this payload; the report reads it here without the runner
(which needs bpy and the add-on's package).
"""

from __future__ import annotations

from dataclasses import dataclass

from .payload import Measured, Payload
from .report_page import Page, num, table


@dataclass
class Timing:
    median_s: float
    min_s: float


@dataclass
class ImportPayload(Payload):
    """import_bench.json: each step's seconds over the repeats."""

    triangles: int
    vertices: int
    repeats: int
    target_s: float
    meets_target: bool
    blender: str
    timings: dict[str, Timing]  # read_npz, build_mesh, import_total, from_pydata


def import_section(page: Page, measured: Measured[ImportPayload]) -> None:
    data = measured.payload
    page.add(
        f"{data.triangles} triangles, {data.repeats} repeats, Blender {data.blender} "
        f"(from `bench/import_bench.py`); target: whole import under {data.target_s} s: "
        f"{'met' if data.meets_target else 'missed'}."
    )
    rows = [[name, num(t.median_s, 3), num(t.min_s, 3)] for name, t in data.timings.items()]
    page.add(*table(["step", "median (s)", "min (s)"], rows))
