"""The speed benchmark's results: its payload (one engine run per preset) and its report section.

bench/speed.py runs the presets and writes this payload; the report reads it here without the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import plots
from .engine_run import RunRecord
from .payload import Measured, Payload
from .report_page import Page, num, provenance, table


@dataclass
class SpeedRow:
    preset: str
    preset_steps: int  # what the preset runs
    prior_build_s: float  # building the procedural image sets on a cold cache (not part of the run)
    run: RunRecord


@dataclass
class SpeedPayload(Payload):
    """speed.json: one run per preset of one prompt."""

    prompt: str
    steps_override: int | None  # --steps, when the runs were shortened
    overrides: tuple[tuple[str, Any], ...]
    rows: list[SpeedRow]


def speed_section(page: Page, measured: Measured[SpeedPayload]) -> None:
    speed = measured.payload
    page.add(provenance(measured.envelope))
    page.add(
        f"Prompt {speed.prompt!r}; one run per preset, each in its own process. Prompt-to-mesh is the "
        "process's wall time; peak memory its own maximum resident set. The prior's image sets were built "
        "before the run (cold-cache build time shown apart)."
    )
    rows = []
    for r in speed.rows:
        run = r.run
        steps = f"{run.steps}" + ("" if run.steps == r.preset_steps else f" (preset: {r.preset_steps})")
        rows.append(
            [
                r.preset,
                steps,
                num(run.it_per_s, 2),
                num(run.wall_s, 1),
                num(run.startup_s, 1),
                num(run.prior_s, 1),
                num(run.optimize_s, 1),
                num(run.finish_s, 1),
                num(run.peak_rss_mib, 0),
                num(r.prior_build_s, 1),
                "ok" if run.error is None else f"failed: {run.error}",
            ]
        )
    header = ["preset", "steps", "it/s", "prompt-to-mesh (s)", "start-up", "prior", "optimize"]
    header += ["turntable + mesh", "peak MiB", "cold prior build (s)", "status"]
    page.add(*table(header, rows))
    rates = {r.preset: r.run.it_per_s for r in speed.rows if r.run.it_per_s is not None}
    plot = plots.it_per_s_per_preset(rates, measured.envelope.machine.cores, page.plots_dir / "it_per_s_per_preset.png")
    page.image(plot, "it/s per preset")
