"""The GPU priors benchmark's results: its payload (one SDS step's cost through each learned prior) and its report
section.

bench/gpu_priors.py times the priors and writes this payload; the report reads it here without the runner (which
needs torch and diffusers).
"""

from __future__ import annotations

from dataclasses import dataclass

from .payload import Measured, Payload
from .report_page import Page, num, table


@dataclass
class PriorResult:
    """One row of the table and of the JSON file."""

    prior: str
    architecture: str
    parameters: dict[str, int]
    published_parameters: str
    dtype: str
    batch: int
    steps: int
    it_per_s: float
    ms_per_step: float
    peak_memory_bytes: int | None  # CUDA only
    meets_target: bool | None  # SD on CUDA at full size only


@dataclass
class GpuPayload(Payload):
    """gpu_priors.json: one SDS step's cost through each learned prior."""

    label: str
    tiny: bool
    device: str
    target: str
    notes: list[str]
    results: list[PriorResult]


def gpu_section(page: Page, measured: Measured[GpuPayload]) -> None:
    gpu = measured.payload
    page.add(f"{gpu.label}, on {gpu.device}, torch {measured.envelope.machine.torch}. Target: {gpu.target}.")
    rows = [
        [
            r.prior,
            r.architecture,
            r.dtype,
            str(r.batch),
            num(r.it_per_s, 2),
            num(r.ms_per_step, 1),
            "-" if r.peak_memory_bytes is None else f"{r.peak_memory_bytes / 1e9:.2f}",
        ]
        for r in gpu.results
    ]
    page.add(*table(["prior", "architecture", "dtype", "batch", "it/s", "ms/step", "peak GB"], rows))
    if gpu.notes:
        page.add(*[f"- {note}" for note in gpu.notes])
    page.add(
        "The public reference settings (threestudio DreamFusion-SD: 64x64 render, 512 latent) are not measured "
        "apart by `bench/gpu_priors.py`: not run."
    )
