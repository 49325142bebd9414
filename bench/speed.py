"""CPU speed and memory per quality preset: iterations per second, prompt-to-mesh time, peak memory.

One full ``python -m engine generate`` per preset, each in its own process; the procedural prior's
image sets are built beforehand, so every preset loads them from the cache the way a second run would
(the build time is reported apart). ``--steps`` shortens the runs; the table then says so.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from engine.config import PRESETS

from .engine_run import EngineRequest, run_engine, warm_prior_cache
from .results_file import SPEED, Envelope, Results, write_results
from .speed_results import SpeedPayload, SpeedRow
from .suite import check_prompts

DEFAULT_PROMPT = "a yellow duck"


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
