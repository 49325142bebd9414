"""The one targets table (bench/targets.py) and the studies table (bench/studies.py): bars that are engine defaults
follow engine/config.py, each study's generated command is one ``python -m bench`` accepts and its committed
results were measured at the study's settings; no tracker issue number is left in the bench or its report."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from bench.__main__ import build_parser
from bench.mesh_bench import RESOLUTION, TEXTURE_SIZE
from bench.payload import read_payload
from bench.quality_results import BASELINE, QualityPayload
from bench.report import SECTIONS
from bench.results_file import RESULTS_DIR
from bench.studies import STUDIES
from bench.targets import TARGETS, target
from engine.config import MeshConfig

ROOT = Path(__file__).resolve().parents[2]


def test_bars_that_are_engine_defaults_are_read_from_the_engine() -> None:
    defaults = MeshConfig()
    assert target("faces").threshold == defaults.face_budget
    assert target("faces").text("60000") == "most faces <= 60000"
    assert (defaults.grid_resolution, defaults.texture_size) == (RESOLUTION, TEXTURE_SIZE)
    assert f"{defaults.grid_resolution}^3" in target("remesh-total").metric


def test_every_target_judges_a_benchmark_the_report_shows_and_has_a_source() -> None:
    kinds = {section.source.kind for section in SECTIONS}
    assert len({t.name for t in TARGETS}) == len(TARGETS)
    for t in TARGETS:
        assert t.benchmark in kinds and t.comparison in (">=", "<=", "<") and t.source, t.name


def test_a_target_is_judged_as_printed_with_the_margin_of_a_miss() -> None:
    gap = target("oracle-gap")
    assert gap.verdict(0.93 - 0.88) == "met"  # 0.05000000000000004 printed is 0.050
    assert gap.verdict(0.07) == "**missed** by 0.020"
    assert target("import-total").met(0.999) and not target("import-total").met(1.0)
    assert target("gpu-sd-peak").text() == "stable-diffusion peak memory < 8 GB"


@pytest.mark.parametrize("study", STUDIES, ids=lambda s: s.name)
def test_a_studys_command_is_one_bench_accepts_with_the_studys_settings(study) -> None:
    words = shlex.split(study.command())
    assert words[:3] == ["python", "-m", "bench"]
    args = build_parser().parse_args(words[3:])
    assert (args.command, args.preset, args.steps, tuple(args.prompts)) == (
        study.bench,
        study.preset,
        study.steps,
        study.prompts,
    )
    assert [(key, json.loads(value)) for key, value in (item.split("=", 1) for item in args.set)] == list(
        study.overrides
    )  # each --set is KEY=JSON
    assert args.results == Path("bench/results") / study.name
    names = args.names if study.bench == "ablations" else (args.ablation_names or [])
    assert tuple(names) == study.variants


@pytest.mark.parametrize("study", STUDIES, ids=lambda s: s.name)
def test_a_studys_committed_results_were_measured_at_its_settings(study) -> None:
    measured = read_payload(RESULTS_DIR / study.results_file.name, study.results_file, QualityPayload)
    assert measured is not None, f"no results for {study.name}: `{study.command()}`"
    settings, payload = measured.payload.settings, measured.payload
    prior = (("guidance.prior", study.prior),) if study.prior else ()
    assert (settings.preset, settings.steps, settings.overrides) == (study.preset, study.steps, prior + study.overrides)
    assert {r.prompt for r in payload.variant(BASELINE)} == set(study.prompts)
    assert {a.name for a in payload.ablations} == set(study.variants)


def test_the_bench_and_its_report_name_no_tracker_issue() -> None:
    pattern = re.compile(r"\b[Ii]ssues? #?\d+|(?<![\w/])#\d+\b")
    files = [*sorted((ROOT / "bench").glob("*.py")), ROOT / "bench" / "REPORT.md", ROOT / "docs" / "architecture.md"]
    found = [f"{path.name}: {match}" for path in files for match in pattern.findall(path.read_text())]
    assert not found
