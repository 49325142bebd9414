"""The full-size CPU benchmark's results: its payload (the Stable Diffusion run's cost, and why DeepFloyd IF was not
run) and its report section.

bench/full_size.py builds the model, runs it and writes this payload; the report reads it here without the runner
(which needs torch and diffusers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .payload import Measured, Payload
from .report_page import Page, provenance, table

GB = 1e9


@dataclass
class LearnedRun:
    """The SD run's cost: the engine's own seconds per step and their split, its load time and peak memory."""

    prior: str
    architecture: str
    dtype: str
    steps: int
    steps_asked: int
    seconds_per_step: float | None
    split_s_per_step: dict[str, float] | None  # render, prior, update
    load_s: float | None
    finish_s: float | None
    wall_s: float
    peak_rss_bytes: int
    engine_peak_memory: dict[str, Any] | None
    mesh: bool  # the exported mesh is there
    faces: int | None
    error: str | None


@dataclass
class NotRun:
    """A prior that was not run here: its weights against this machine's memory."""

    prior: str
    model: str
    dtype: str
    run: bool
    weights_bytes: int
    low_memory_weights_bytes: int
    machine_memory_bytes: int
    fits: bool
    why: str


@dataclass
class FullSizePayload(Payload):
    """full_size.json."""

    label: str
    tiny: bool
    engine_command: str
    cpu_threads: int | None
    notes: list[str]
    stable_diffusion: LearnedRun
    deepfloyd_if: NotRun


def full_size_section(page: Page, measured: Measured[FullSizePayload]) -> None:
    data, sd, deepfloyd = measured.payload, measured.payload.stable_diffusion, measured.payload.deepfloyd_if
    tiny = " (tiny widths: a check of the script, not of the cost)" if data.tiny else ""
    page.add(provenance(measured.envelope))
    page.add(
        f"{data.label}{tiny}: `{data.engine_command}` on {data.cpu_threads or '?'} torch threads. "
        + " ".join(data.notes)
    )
    split = sd.split_s_per_step or {}
    rows = [
        [
            sd.architecture,
            sd.dtype,
            f"{sd.steps} of {sd.steps_asked}",
            "-" if sd.seconds_per_step is None else f"{sd.seconds_per_step:.1f}",
            " / ".join(f"{split.get(k, 0):.1f}" for k in ("render", "prior", "update")) if split else "-",
            "-" if sd.load_s is None else f"{sd.load_s:.1f}",
            f"{sd.peak_rss_bytes / GB:.1f}",
            "yes" if sd.mesh else "no",
            "ok" if sd.error is None else f"failed: {sd.error}",
        ]
    ]
    header = ["model", "dtype", "steps", "s/step", "render / prior / update (s)", "load (s)", "peak GB", "mesh"]
    page.add(*table([*header, "status"], rows))
    page.add(f"{deepfloyd.model}: not run ({deepfloyd.why}).")
