"""One-off studies as data: what each asks, how it was run and where its results are.

A study is a ``python -m bench quality`` or ``python -m bench ablations`` run with its own settings into a folder
of its own under bench/results/. The report's section for it, and the command shown there, are generated from
its row here; adding a study is adding a row (and running its command).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .payload import Measured
from .quality_results import (
    QualityPayload,
    study_own_oracle_section,
    study_runs_section,
    study_seeds_section,
    study_trials_section,
)
from .report_page import Page
from .results_file import ResultsFile
from .suite import THIN_SHAPE_TRIALS

RESULTS_FOLDER = "bench/results"

EARLIER_NOISE_RANGE = (
    "Measured before the camera-conditioned prior and its oracle drew t from 0.02-0.4 (then from 0.02-0.98, the "
    "paper's range); not re-run since. The suite's sections above are measured with 0.02-0.4."
)
THIN_AND_HOLLOW = ("a pink mug", "a brown chair")
FIELD_PROMPTS = ("a red cube", "a blue sphere", "a green cylinder", "a yellow duck", "a brown chair", "a pink mug")
ORACLE = (("guidance.prior", "oracle"),)


@dataclass(frozen=True)
class Study:
    """One study: its question, the bench command's settings, and how the report shows its results."""

    name: str  # its folder under bench/results/
    title: str  # the report's heading
    question: str  # what it asks, in one line
    bench: str  # "quality" | "ablations": the bench command that runs it
    prompts: tuple[str, ...]
    section: Callable[[Page, Measured[QualityPayload], str], None]  # renders it, given its folder
    preset: str = "fast"
    steps: int | None = None  # None: the preset's
    overrides: tuple[tuple[str, Any], ...] = ()  # --set, for every run
    variants: tuple[str, ...] = ()  # ablations (bench/suite.py) run beside the baseline
    prior: str | None = None  # ablations only: the prior every run uses (None: the command's default)
    jobs: int = 1
    note: str = ""  # said under its results (what they were measured on, if not this tree)

    @property
    def results_file(self) -> ResultsFile:
        return ResultsFile(self.bench, f"{self.name}/{self.bench}.json")

    def argv(self) -> list[str]:
        """The arguments of ``python -m bench`` that run this study."""
        args = [self.bench]
        if self.prior is not None:
            args += ["--prior", self.prior]
        if self.preset != "fast":
            args += ["--preset", self.preset]
        if self.steps is not None:
            args += ["--steps", str(self.steps)]
        args += ["--prompts", *self.prompts]
        for key, value in self.overrides:
            args += ["--set", f"{key}={json.dumps(value)}"]
        if self.bench == "ablations":
            args += ["--names", *self.variants]
        elif self.variants:
            args += ["--ablations", "--ablation-names", *self.variants, "--ablation-prompts", *self.prompts]
        if self.jobs > 1:
            args += ["--jobs", str(self.jobs)]
        return [*args, "--results", f"{RESULTS_FOLDER}/{self.name}"]

    def command(self) -> str:
        """``argv`` as one would type it in a shell."""
        return shlex.join(["python", "-m", "bench", *self.argv()])

    def render(self, page: Page, measured: Measured[QualityPayload]) -> None:
        page.add(f"Question: {self.question}")
        self.section(page, measured, self.name)


STUDIES: tuple[Study, ...] = (
    Study(
        name="thin-shapes",
        title="Thin and hollow shapes: what was tried on their oracle",
        question="Which change of the machinery (finer grids, a sharper surface, views from above, shadows, more "
        "steps, a faster geometry rate) lifts the mug's and the chair's oracle, whose bound is the machinery's?",
        bench="quality",
        prompts=THIN_AND_HOLLOW,
        overrides=(("guidance.prior", "oracle"),),
        variants=tuple(a.name for a in THIN_SHAPE_TRIALS),
        section=study_trials_section,
        note=EARLIER_NOISE_RANGE,
    ),
    Study(
        name="deferred-shading",
        title="Deferred shading, against its own oracle",
        question="With one shade per ray at its mean normal, how far is each prompt from an oracle trained the same "
        "way?",
        bench="quality",
        prompts=("a pink mug", "a red cube", "a brown chair"),
        preset="balanced",
        overrides=(("render.shading", "deferred"),),
        variants=("oracle",),
        section=study_own_oracle_section,
        note=EARLIER_NOISE_RANGE,
    ),
    Study(
        name="long-runs",
        title="Longer runs on the thin and hollow shapes, against their own oracle",
        question="Do 2400 steps close the thin and hollow shapes' gap to their own oracle?",
        bench="quality",
        prompts=THIN_AND_HOLLOW,
        preset="balanced",
        steps=2400,
        variants=("oracle",),
        section=study_own_oracle_section,
        note=EARLIER_NOISE_RANGE,
    ),
    Study(
        name="camera-prior",
        title="Textureless shading on the camera-conditioned prior, over seeds",
        question="On the prior where fronts form, what does textureless shading change, seed to seed?",
        bench="ablations",
        prompts=("a yellow duck", "a brown chair"),
        prior="procedural",
        variants=("no-textureless",),  # the camera-told prior reads no view suffix: no-view-prompts changes nothing
        jobs=2,
        section=study_seeds_section,
    ),
    Study(
        name="hash-grid/sdf-grid",
        title="The default sdf-grid field on the oracle",
        question="What does the default field reach on the oracle at the fast preset (the hash grid's baseline)?",
        bench="quality",
        prompts=FIELD_PROMPTS,
        overrides=ORACLE,
        section=study_runs_section,
    ),
    Study(
        name="hash-grid/hash-grid",
        title="The hash-grid field on the oracle",
        question="How does the hash-grid field, a signed distance with 5 levels to 128 cells, compare with the "
        "sdf-grid above at the same settings?",
        bench="quality",
        prompts=FIELD_PROMPTS,
        overrides=(
            *ORACLE,
            ("field.name", "hash_grid"),
            ("field.hash_grid.output", "sdf"),
            ("optim.lr", 0.03),
            ("field.hash_grid.finest_resolution", 128),
            ("field.hash_grid.levels", 5),
        ),
        section=study_runs_section,
    ),
)
