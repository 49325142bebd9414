"""``python -m bench --smoke``: every part of the benchmark once, on settings small enough for the test suite.

The numbers mean nothing (3 steps at 32 px); the point is that the quality run, the ablation study
(two seeds, two engines side by side), metrics, strips, speed run, JSON and report all work. The
unconditional image set is the negative prompt's single scene instead of 48 random scenes, and the
image sets are cached in the smoke's own folder, so it needs no earlier state and leaves none behind
outside ``out``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .quality import QualityBench, QualitySettings
from .report import build_report
from .results_file import ABLATIONS
from .speed import run_speed
from .suite import SMOKE_SUITE, TEXT_PRIOR, ablations_named

SMOKE_OVERRIDES = (
    ("render.resolution", 32),
    ("guidance.procedural_text.views", 8),
    ("mesh.grid_resolution", 32),
    ("turntable_frames", 2),
    ("preview_every", 0),
    ("checkpoint_every", 0),
)
SMOKE_NEGATIVE_PROMPT = "a gray sphere"
SMOKE_STEPS = 3
SMOKE_SEEDS = (0, 1)


def run_smoke(out: Path) -> Path:
    """Quality, speed and report into ``out``; the report's path."""
    results, work, cache = out / "results", out / "runs", out / "cache"
    settings = QualitySettings(
        steps=SMOKE_STEPS,
        overrides=SMOKE_OVERRIDES,
        negative_prompt=SMOKE_NEGATIVE_PROMPT,
        cache_dir=cache,
        truth_resolution=48,
        iou_resolution=32,
        surface_samples=2000,
    )
    QualityBench(settings, results, work).run(SMOKE_SUITE, (), [])
    study = dataclasses.replace(settings, overrides=(("guidance.prior", TEXT_PRIOR), *SMOKE_OVERRIDES))
    QualityBench(study, results, work / "ablations", results_file=ABLATIONS).run(
        (), ablations_named(["no-view-prompts"]), [SMOKE_SUITE[0].prompt], seeds=SMOKE_SEEDS, jobs=2
    )
    run_speed(
        ["fast"],
        results,
        work,
        prompt=SMOKE_SUITE[0].prompt,
        steps=SMOKE_STEPS,
        overrides=SMOKE_OVERRIDES,
        negative_prompt=SMOKE_NEGATIVE_PROMPT,
        cache_dir=cache,
    )
    return build_report(results, out / "REPORT.md")
