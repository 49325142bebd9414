"""The mesh benchmark's results: its payload (each field and bake's ``remesh_run`` stages, faces and peak memory
against its bar) and its report section.

bench/mesh_bench.py times the cases and writes this payload; the report reads it here without the runner.
"""

from __future__ import annotations

from dataclasses import dataclass

from .payload import Measured, Payload
from .report_page import Page, num, table


@dataclass
class MeshRow:
    """One case: a field, a bake, and the stages' seconds of its ``remesh_run``."""

    field: str
    bake: str  # "vertex" | "uv"
    total_s: float
    mesh_s: float
    bake_s: float
    export_s: float
    vertices: int
    faces: int
    threshold: float
    peak_rss_mb: float
    limit_s: float
    within_limit: bool
    sample_and_store_s: float | None = None  # the field sampled and its grid stored (the first case of a field)


@dataclass
class MeshPayload(Payload):
    """mesh_bench.json."""

    resolution: int
    texture_size: int
    rows: list[MeshRow]


def mesh_section(page: Page, measured: Measured[MeshPayload]) -> None:
    mesh, machine = measured.payload, measured.envelope.machine
    page.add(
        f"{mesh.resolution}^3 grid, {mesh.texture_size}^2 texture, {machine.cores} cores, "
        f"Python {machine.python} (from `bench/mesh_bench.py`)."
    )
    rows = [
        [
            r.field,
            r.bake,
            num(r.total_s, 2),
            num(r.bake_s, 2),
            str(r.faces),
            num(r.peak_rss_mb, 0),
            f"{r.limit_s:.0f} s: {'ok' if r.within_limit else 'over'}",
        ]
        for r in mesh.rows
    ]
    page.add(*table(["field", "bake", "remesh total (s)", "bake (s)", "faces", "peak MB", "target"], rows))
