"""The device check's results: its payload (each case's it/s, render / prior / update split, peak memory and
verdict) and its report section.

bench/device_check.py runs the cases and writes this payload; the report reads it here without the runner (which
needs torch and diffusers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .payload import Measured, Payload
from .report_page import Page, num, provenance, table


@dataclass
class CaseResult:
    """One row of the JSON file and of the report's table."""

    case: str
    prior: str
    recipe: str  # the prior's recipe the run used (engine/recipes.py), at ``steps`` steps
    architecture: str
    low_memory: bool
    steps: int
    it_per_s: float | None
    phase_share: dict[str, float] | None  # of the steps' time: render, prior, update
    ms_per_step: dict[str, float] | None  # per phase
    peak_memory_bytes: int | None  # the accelerator's reserved peak (the RAM peak on the CPU)
    peak_allocated_bytes: int | None
    process_peak_bytes: int | None
    load_s: float | None  # preparing the prior (loading the model folder)
    wall_s: float
    target: str
    meets_target: bool | None
    error: str | None


@dataclass
class DeviceCheckPayload(Payload):
    """device_check.json: ``generate`` end to end on each case, rewritten after every case."""

    label: str
    tiny: bool
    device: str
    dtype: str
    notes: list[str]
    results: list[CaseResult] = field(default_factory=list)
    elapsed_s: float | None = None  # None: no case finished yet


def device_check_section(page: Page, measured: Measured[DeviceCheckPayload]) -> None:
    check = measured.payload
    tiny = " (tiny networks: a check of the script, not of the device)" if check.tiny else ""
    page.add(
        f"{check.label}{tiny}: `generate` through the CLI on {check.device} ({check.dtype}), torch "
        f"{measured.envelope.machine.torch}. {provenance(measured.envelope)}"
    )
    rows = []
    for r in check.results:
        share, ms = r.phase_share or {}, r.ms_per_step or {}
        split = " / ".join(f"{ms.get(k, 0):.1f} ms ({share.get(k, 0):.0%})" for k in ("render", "prior", "update"))
        peak = "-" if r.peak_memory_bytes is None else f"{r.peak_memory_bytes / 1e9:.2f}"
        verdict = {None: "-", True: "met", False: "**missed**"}[r.meets_target]
        rows.append(
            [
                r.case,
                r.architecture,
                r.recipe,
                "yes" if r.low_memory else "no",
                str(r.steps),
                num(r.it_per_s, 2),
                split if ms else "-",
                peak,
                r.target,
                verdict if r.error is None else f"failed: {r.error}",
            ]
        )
    header = ["case", "networks", "recipe", "low-memory", "steps", "it/s", "render / prior / update per step"]
    page.add(*table([*header, "peak GB", "target", "verdict"], rows))
    page.add(*[f"- {note}" for note in check.notes])
