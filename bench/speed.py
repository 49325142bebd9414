"""CPU speed and memory per quality preset: iterations per second, prompt-to-mesh time, peak memory.

One full ``python -m engine generate`` per preset, each in its own process; the procedural prior's
image sets are built beforehand, so every preset loads them from the cache the way a second run would
(the build time is reported apart). ``--steps`` shortens the runs; the table then says so.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import PRESETS

from . import plots
from .engine_run import EngineRequest, RunRecord, run_engine, warm_prior_cache
from .payload import Measured, Payload
from .report_page import Page, num, provenance, table
from .results_file import SPEED, Envelope, Results, write_results
from .suite import check_prompts

DEFAULT_PROMPT = "a yellow duck"


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


def run_speed(
    presets: list[str],
    results_dir: Path,
    work_dir: Path,
    prompt: str = DEFAULT_PROMPT,
    steps: int | None = None,
    seed: int = 0,
    overrides: tuple[tuple[str, Any], ...] = (),
    negative_prompt: str | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Run each preset once and write ``speed.json``; prints one line per preset."""
    check_prompts([prompt])
    rows = []
    for preset in presets:
        request = EngineRequest(prompt, preset, steps, seed, overrides, negative_prompt, cache_dir)
        build_s = warm_prior_cache(request)
        run_dir = work_dir / f"speed--{preset}"
        if run_dir.exists():
            shutil.rmtree(run_dir)  # a scratch folder of an earlier benchmark run
        record = run_engine(request, run_dir)
        rows.append(SpeedRow(preset, int(PRESETS[preset]["optim.steps"]), round(build_s, 3), record))
        status = "FAILED: " + record.error if record.error else "ok"
        print(
            f"{preset:9} {record.steps:5d} steps  {record.it_per_s or 0:6.2f} it/s"
            f"  prompt-to-mesh {record.wall_s:7.1f} s  peak {record.peak_rss_mib:6.0f} MiB  {status}",
            flush=True,
        )
    payload = SpeedPayload(prompt, steps, overrides, rows)
    return write_results(results_dir / SPEED.name, Results(Envelope.now(SPEED.kind), payload.to_json()))


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
