"""The report's section loop and its honesty: it shows what the JSON holds, says "not run" for a missing
file, and stops with a sentence naming a file it cannot use and what is wrong with it; rebuilt from the committed
results it is the committed ``bench/REPORT.md``."""

from __future__ import annotations

import inspect
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.engine_run import RunRecord
from bench.payload import to_json
from bench.quality import front_verdict
from bench.quality_results import (
    QualityPayload,
    QualityResult,
    QualitySettings,
    ablation_matrix,
    ablation_rows,
    quality_targets,
    seed_study_matrix,
    seed_study_rows,
)
from bench.report import SECTIONS, build_report
from bench.results_file import REPORT_PATH, RESULTS_DIR, SCHEMA_VERSION, Envelope, Results, write_results
from engine.errors import EngineError

FILES = {s.source.name: s.source.kind for s in SECTIONS}


def _sections(report: str) -> dict[str, str]:
    """Each ``## `` section's body by its title."""
    parts = re.split(r"^## (.+)$", report, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_report_without_results_invents_nothing(tmp_path: Path) -> None:
    report = build_report(tmp_path / "results", tmp_path / "REPORT.md").read_text()
    assert "Not run: no `quality.json` yet" in report and "Not run: no `speed.json` yet" in report
    body = report.split("## Quality", 1)[1].split("## Targets", 1)[0]  # the targets are bars, not measurements
    prose = [line for line in body.splitlines() if not line.startswith("## ")]  # a heading may name a model's version
    words = re.sub(r"`[^`]*`", "", "\n".join(prose))  # a command's settings (`--set optim.lr=0.03`) measure nothing
    assert not re.search(r"\d\.\d", words)  # no measurements anywhere
    assert not (tmp_path / "results" / "plots").exists()


def test_every_missing_file_is_listed_as_not_run_in_its_section(tmp_path: Path) -> None:
    sections = _sections(build_report(tmp_path / "results", tmp_path / "REPORT.md").read_text())
    assert list(sections) == [*(s.title for s in SECTIONS), "Targets"]
    for section in SECTIONS:
        body = sections[section.title].strip()
        assert body.startswith("Not run: no") and f"`{section.source.name}`" in body, section.title
        assert f"`{section.command}`" in body
        assert not section.note or section.note not in body  # a note speaks of results, and there are none


def test_a_section_measured_on_an_earlier_tree_says_so_under_its_results(tmp_path: Path) -> None:
    noted = [s for s in SECTIONS if s.note]
    assert noted, "no section carries a note"
    for section in noted:
        target = tmp_path / section.source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(RESULTS_DIR / section.source.name, target)
    sections = _sections(build_report(tmp_path, tmp_path / "REPORT.md").read_text())
    for section in noted:
        body = sections[section.title]
        assert "Not run" not in body and body.strip().endswith(section.note), section.title
    assert all(noted[0].note not in sections[s.title] for s in SECTIONS if not s.note)


def test_report_stops_at_a_file_of_another_schema(tmp_path: Path) -> None:
    (tmp_path / "speed.json").write_text(json.dumps({"schema": SCHEMA_VERSION + 1, "kind": "speed"}))
    with pytest.raises(EngineError, match=rf"`speed.json` is not speed results of schema {SCHEMA_VERSION}; "):
        build_report(tmp_path, tmp_path / "REPORT.md")
    assert not (tmp_path / "REPORT.md").exists()


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_file_of_another_kind_stops_the_report_with_its_name_and_command(tmp_path: Path, name: str) -> None:
    other = next(kind for kind in FILES.values() if kind != FILES[name])
    write_results(tmp_path / name, Results(Envelope.now(other, command="test"), {}))
    commands = {f"`{s.command}` writes it anew" for s in SECTIONS if s.source.name == name}
    with pytest.raises(EngineError) as raised:
        build_report(tmp_path, tmp_path / "REPORT.md")
    sentence, _, command = str(raised.value).partition("; ")
    assert sentence == f"`{name}` is not {FILES[name]} results of schema {SCHEMA_VERSION}" and command in commands


def test_a_payload_of_another_shape_names_the_file_and_the_field(tmp_path: Path) -> None:
    write_results(tmp_path / "mesh_bench.json", Results(Envelope.now("mesh", command="test"), {"rows": []}))
    with pytest.raises(EngineError) as raised:
        build_report(tmp_path, tmp_path / "REPORT.md")
    assert str(raised.value) == (
        "`mesh_bench.json` does not hold what its benchmark writes: resolution is missing (int); "
        "`python -m bench mesh` writes it anew"
    )


def test_a_file_that_is_not_json_names_itself(tmp_path: Path) -> None:
    (tmp_path / "import_bench.json").write_text("{ not json")
    with pytest.raises(EngineError, match=r"`import_bench\.json` is not readable JSON"):
        build_report(tmp_path, tmp_path / "REPORT.md")


HEAVY = ("torch", "diffusers", "transformers", "bpy", "ray")
ROOT = Path(__file__).resolve().parents[2]


def test_building_the_report_loads_no_benchmarks_runtime() -> None:
    """The report reads JSON: importing it (in a fresh process) loads no torch, diffusers, transformers, bpy or Ray,
    which the benchmarks' runners need and their results modules do not."""
    code = f"import sys, bench.report; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [], f"importing bench.report loaded {done.stdout.strip()}"


def test_each_section_reads_and_renders_through_the_results_module_beside_its_runner() -> None:
    for section in SECTIONS:
        module = section.payload.__module__
        assert module.endswith("_results"), f"{section.title}: payload {section.payload.__name__} is in {module}"
        runner = ROOT / f"{module.removesuffix('_results').replace('.', '/')}.py"
        assert runner.is_file(), f"{module} is beside no runner {runner.name}"
        if inspect.isfunction(section.render):  # a study's render is its row's (bench/studies.py)
            assert section.render.__module__ == module, f"{section.title} renders from {section.render.__module__}"


@pytest.mark.slow  # every section and its plots from the committed results: 3-5 s on 2 cores
def test_the_report_rebuilt_from_the_committed_results_is_the_committed_report(tmp_path: Path) -> None:
    """Every committed results file is readable, and ``bench/REPORT.md`` is what they render to today."""
    results = tmp_path / "results"
    results.mkdir()
    for name in FILES:
        if (RESULTS_DIR / name).is_file():
            (results / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(RESULTS_DIR / name, results / name)
    rebuilt = build_report(results, tmp_path / REPORT_PATH.name).read_text().splitlines()
    committed = REPORT_PATH.read_text().splitlines()
    generated = [i for i, line in enumerate(committed) if line.startswith("Generated ")]
    assert generated == [i for i, line in enumerate(rebuilt) if line.startswith("Generated ")] == [2]
    del rebuilt[2], committed[2]
    assert rebuilt == committed


RUN = RunRecord("a prompt", "/runs/x", 0, None, 600, 60.0, 800.0, 10.0, 2.0, 1.0, 50.0, 7.0, "/runs/x/mesh.npz", 1000)


def _result(prompt: str, variant: str, iou: float, fronts: list[str], seed: int = 0) -> QualityResult:
    verdict = front_verdict(fronts, [])
    front = {"shape": prompt.split()[-1], "fronts": fronts, "untested": [], "ok": verdict == "ok", "verdict": verdict}
    data = {"prompt": prompt, "category": "fronted", "variant": variant, "run": to_json(RUN), "seed": seed}
    data |= {"iou": iou, "front_ok": verdict == "ok", "janus": verdict == "janus"}
    data |= {"fronts": [front | {"marker_albedo_error": None}]}
    return QualityPayload.from_json(_payload([data]), Path("test.json")).results[0]


def _payload(results: list[dict], ablations: tuple[str, ...] = (), seeds: tuple[int, ...] = (0,)) -> dict:
    described = [{"name": name, "description": "x", "overrides": []} for name in ablations]
    settings = to_json(QualitySettings())
    return {
        "complete": True,
        "settings": settings,
        "seeds": list(seeds),
        "ablations": described,
        "results": results,
    } | {"rescored": False}


def _quality(results: list[QualityResult], ablations: tuple[str, ...], seeds: tuple[int, ...] = (0,)) -> QualityPayload:
    return QualityPayload.from_json(_payload([to_json(r) for r in results], ablations, seeds), Path("test.json"))


def test_ablation_rows_pair_each_run_with_its_prompts_baseline() -> None:
    results = [
        _result("a yellow duck", "baseline", 0.60, ["-Y"]),
        _result("a brown chair", "baseline", 0.50, ["-Y"]),
        _result("a yellow duck", "no-view-prompts", 0.45, ["-Y", "+Y"]),
        _result("a brown chair", "no-view-prompts", 0.40, ["-Y"]),
    ]
    quality = _quality(results, ("no-view-prompts",))
    (row,) = ablation_rows(quality)
    assert math.isclose(row["mean_delta_iou"], ((0.45 - 0.60) + (0.40 - 0.50)) / 2)
    assert math.isclose(row["baseline_iou"], 0.55) and math.isclose(row["iou"], 0.425)
    assert (row["baseline_front_ok"], row["front_ok"], row["baseline_janus"], row["janus"]) == (2, 1, 0, 1)

    header, matrix = ablation_matrix(quality)
    assert header == ["prompt", "baseline", "no-view-prompts"]
    assert matrix == [["a yellow duck", "0.600 (ok)", "0.450 (janus)"], ["a brown chair", "0.500 (ok)", "0.400 (ok)"]]


def test_seed_study_pairs_each_run_with_the_full_method_at_its_seed() -> None:
    runs = [
        (0, "baseline", 0.30, ["-Y"]),
        (0, "no-view-prompts", 0.20, ["-Y", "+Y"]),
        (1, "baseline", 0.50, []),
        (1, "no-view-prompts", 0.45, ["-Y"]),
    ]
    study = _quality(
        [_result("a yellow duck", v, iou, f, seed) for seed, v, iou, f in runs], ("no-view-prompts",), (0, 1)
    )
    assert study.results[2].fronts[0].verdict == "none"
    full, ablated = seed_study_rows(study)
    assert full["iou_per_seed"] == {0: 0.30, 1: 0.50} and full["delta_per_seed"] == {0: 0.0, 1: 0.0}
    assert {s: round(d, 6) for s, d in ablated["delta_per_seed"].items()} == {0: -0.1, 1: -0.05}
    assert (ablated["fronted"], ablated["front_ok"], ablated["janus"]) == (2, 1, 1)
    header, matrix = seed_study_matrix(study)
    assert header == ["prompt", "baseline", "no-view-prompts"]
    assert matrix == [["a yellow duck", "0.400 [0.300, 0.500] (ok 1, none 1)", "0.325 [0.200, 0.450] (janus 1, ok 1)"]]


def _scored(prompt: str, category: str, iou: float, **fields: Any) -> QualityResult:
    run = to_json(RUN) | {"faces": fields.pop("faces", 1000)}
    fronts = [
        {"shape": "x", "fronts": [], "untested": [], "ok": f["verdict"] == "ok", "marker_albedo_error": None} | f
        for f in fields.pop("fronts", [])
    ]
    row = {"prompt": prompt, "category": category, "variant": "baseline", "iou": iou, "fronts": fronts, "run": run}
    row |= {"normal_consistency": 0.9, "chamfer": 0.0105, "undecimated_chamfer": 0.01} | fields
    return QualityPayload.from_json(_payload([row]), Path("test.json")).results[0]


def test_quality_targets_are_judged_with_the_margin_of_a_miss() -> None:
    baseline = [
        _scored("a red cube", "shape", 0.90),
        _scored("a blue sphere", "shape", 0.78, faces=61000),
        _scored("a pink mug", "fronted", 0.40, fronts=[{"verdict": "ok"}], front_ok=True),
        _scored("a yellow duck", "fronted", 0.90, fronts=[{"verdict": "janus"}], front_ok=False),
        _scored("a white cube", "custom", 0.90),
        _scored("a gray cube", "custom", 0.88),
        _scored("a black cube", "custom", 0.93),
    ]
    rows = {row[0]: row[1:] for row in quality_targets(baseline, {"a pink mug": 0.47, "a red cube": 0.92})}
    assert rows["mean IoU, shape (2) >= 0.85"] == ["0.840", "**missed** by 0.010"]
    assert rows["mean IoU, fronted (2) >= 0.7"] == ["0.650", "**missed** by 0.050"]
    assert "mean IoU, composition" not in " ".join(rows)  # no composition was run
    assert rows["prompts with a fronted object: one front, at -Y"] == ["1 of 2", "**missed**"]
    assert rows["most faces <= 60000"] == ["61000", "**missed** by 1000.000"]
    assert rows["decimated Chamfer at most 10% above undecimated"] == ["+5.0%", "met"]
    assert rows["white, gray and black cube within 0.05 IoU"] == ["spread 0.050", "met"]
    assert rows["IoU within 0.05 of the oracle (2 with an oracle run)"] == [
        "largest gap 0.070 (a pink mug)",
        "**missed** by 0.020",
    ]
