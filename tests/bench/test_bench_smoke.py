"""``python -m bench --smoke``: the smoke run end to end (real engine runs, metrics, strips, report), the
quality suite's prompts and front verdicts, and a failed engine run's record."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bench.engine_run import EngineRequest, run_engine
from bench.quality import QualityBench, front_verdict
from bench.quality_results import QualitySettings
from bench.results_file import SCHEMA_VERSION
from bench.smoke import SMOKE_NEGATIVE_PROMPT, SMOKE_OVERRIDES, SMOKE_SEEDS, SMOKE_STEPS
from bench.suite import ABLATION_PROMPTS, SUITE, ablations_named, check_prompts, entries_for
from engine.errors import EngineError
from engine.procedural.prompt import parse_prompt
from engine.procedural.vocabulary import as_json
from engine.trainer import PREVIEW_RESOLUTION

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smoke")
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.mark.slow
def test_smoke_quality_json_holds_measured_metrics(smoke: Path) -> None:
    data = json.loads((smoke / "results" / "quality.json").read_text())
    assert data["schema"] == SCHEMA_VERSION and data["kind"] == "quality" and data["complete"]
    assert data["machine"]["cores"] >= 1 and data["machine"]["torch"]
    (result,) = data["results"]
    assert result["error"] is None and result["variant"] == "baseline"
    assert 0.0 <= result["iou"] <= 1.0
    assert 0.0 < result["chamfer"] < 2.0 and 0.0 <= result["albedo_error"] <= 1.0
    assert [f["shape"] for f in result["fronts"]] == ["duck"]
    assert result["fronts"][0]["verdict"] in ("ok", "turned", "none", "janus", "all round")
    run = result["run"]
    assert run["steps"] == SMOKE_STEPS and run["losses"][-1][0] == SMOKE_STEPS
    assert run["peak_rss_mib"] > 100  # torch alone is more; a per-child figure, not the test's own
    assert run["wall_s"] >= run["startup_s"] + run["prior_s"] + run["optimize_s"] + run["finish_s"] - 0.01
    strip = Image.open(smoke / "results" / result["strip"])
    assert strip.height > 4 * PREVIEW_RESOLUTION and strip.width > 2 * PREVIEW_RESOLUTION  # 4 rows, 2 frames


@pytest.mark.slow
def test_smoke_ablation_study_runs_every_variant_at_every_seed(smoke: Path) -> None:
    data = json.loads((smoke / "results" / "ablations.json").read_text())
    assert data["kind"] == "ablations" and data["complete"] and data["seeds"] == list(SMOKE_SEEDS)
    runs = [(r["seed"], r["variant"]) for r in data["results"]]
    assert runs == [(seed, v) for seed in SMOKE_SEEDS for v in ("baseline", "no-view-prompts")]  # in task order
    assert all(r["error"] is None and 0.0 <= r["iou"] <= 1.0 for r in data["results"])
    configs = [json.loads((Path(r["run"]["run_dir"]) / "config.json").read_text()) for r in data["results"]]
    assert [c["seed"] for c in configs] == [seed for seed in SMOKE_SEEDS for _ in range(2)]
    assert {c["guidance"]["prior"] for c in configs} == {"procedural-text"}
    assert [c["guidance"]["view_dependent_prompts"] for c in configs] == [True, False] * len(SMOKE_SEEDS)
    assert all((smoke / "results" / r["strip"]).is_file() for r in data["results"])
    assert all(r["strip"].startswith("strips/ablations/") for r in data["results"])
    report = (smoke / "REPORT.md").read_text()
    section = report.split("## The paper's ablations over seeds", 1)[1].split("\n## ", 1)[0]
    assert "| baseline | the full method | 2 |" in section and "| no-view-prompts |" in section


@pytest.mark.slow
def test_smoke_speed_json_and_report(smoke: Path) -> None:
    speed = json.loads((smoke / "results" / "speed.json").read_text())
    (row,) = speed["rows"]
    assert row["preset"] == "fast" and row["preset_steps"] == 600 and row["run"]["steps"] == SMOKE_STEPS
    assert row["run"]["it_per_s"] > 0 and row["run"]["error"] is None
    report = (smoke / "REPORT.md").read_text()
    assert "| a yellow duck | fronted |" in report
    assert f"| fast | {SMOKE_STEPS} (preset: 600) |" in report
    assert "## GPU" in report and "Not run: no GPU" in report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(images) >= 4  # IoU, loss curves, strip, it/s
    for image in images:
        assert (smoke / image).is_file(), image


def test_front_verdicts() -> None:
    assert front_verdict(["-Y"], []) == "ok"
    assert front_verdict(["+X"], []) == "turned"
    assert front_verdict([], []) == "none"
    assert front_verdict(["-Y", "+Y"], []) == "janus"
    assert front_verdict(["-Y", "+X", "+Y", "-X"], []) == "all round"
    assert front_verdict(["-Y", "+X", "-X"], ["+Y"]) == "all round"


def test_suite_covers_the_vocabulary() -> None:
    vocabulary = as_json()
    check_prompts([e.prompt for e in SUITE])
    specs = [parse_prompt(e.prompt) for e in SUITE]
    objects = [o for spec in specs for o in spec.objects]
    assert len(SUITE) >= 12
    assert {o.shape for o in objects} == set(vocabulary["shapes"])
    assert {o.color for o in objects} == set(vocabulary["colors"])
    assert {e.category for e in SUITE} == {"shape", "fronted", "composition"}
    assert all(parse_prompt(p).objects[0].shape in vocabulary["fronted_shapes"] for p in ABLATION_PROMPTS)


@pytest.mark.slow
def test_a_failed_engine_run_is_recorded_with_the_engines_message(tmp_path: Path) -> None:
    record = run_engine(EngineRequest("a plaid cube", steps=1), tmp_path / "run")
    assert record.exit_code == 2 and not record.ok
    assert record.error is not None and "plaid" in record.error
    assert record.peak_rss_mib > 10


@pytest.mark.parametrize("baselines", [True, False])
def test_a_shard_without_baselines_runs_only_the_ablations(baselines: bool, tmp_path: Path) -> None:
    bench = QualityBench(QualitySettings(preset="fast"), tmp_path / "results", tmp_path / "work")
    tasks = bench.tasks(entries_for(["a red cube"]), ablations_named(["oracle"]), ["a pink mug"], baselines=baselines)
    expected = [("a red cube", "baseline"), ("a pink mug", "baseline")] if baselines else []
    assert [(t.prompt, t.variant) for t in tasks] == [*expected, ("a pink mug", "oracle")]
    assert {t.seed for t in tasks} == {0}


def test_every_seed_runs_every_task(tmp_path: Path) -> None:
    bench = QualityBench(QualitySettings(preset="fast"), tmp_path / "results", tmp_path / "work")
    ablations = ablations_named(["no-view-prompts", "no-textureless"])
    tasks = bench.tasks((), ablations, ["a yellow duck", "a brown chair"], seeds=(0, 1, 2))
    per_seed = [(t.prompt, t.variant) for t in tasks if t.seed == 0]
    assert len(tasks) == 3 * len(per_seed) == 3 * 6
    assert all([(t.prompt, t.variant) for t in tasks if t.seed == seed] == per_seed for seed in (1, 2))
    assert dict(tasks[1].overrides) == {"guidance.view_dependent_prompts": False}


@pytest.mark.slow
def test_append_adds_runs_and_rescore_extracts_them_again(tmp_path: Path) -> None:
    settings = QualitySettings(
        steps=SMOKE_STEPS,
        overrides=SMOKE_OVERRIDES,
        negative_prompt=SMOKE_NEGATIVE_PROMPT,
        cache_dir=tmp_path / "cache",
        truth_resolution=48,
        iou_resolution=32,
        surface_samples=2000,
    )
    results = tmp_path / "results"
    QualityBench(settings, results, tmp_path / "work").run(entries_for(["a red cube"]), (), [])
    appended = QualityBench(settings, results, tmp_path / "work", append=True)
    appended.run((), ablations_named(["deferred-shading"]), ["a red cube"], baselines=False)
    data = json.loads((results / "quality.json").read_text())
    assert [(r["prompt"], r["variant"]) for r in data["results"]] == [
        ("a red cube", "baseline"),
        ("a red cube", "deferred-shading"),
    ]
    assert [a["name"] for a in data["ablations"]] == ["deferred-shading"] and data["complete"]
    assert data["command"].count("  +  ") == 1
    deferred = json.loads((Path(data["results"][1]["run"]["run_dir"]) / "config.json").read_text())
    assert deferred["render"]["shading"] == "deferred"

    meshes = [Path(r["run"]["run_dir"]) / "mesh.npz" for r in data["results"]]
    exported = [m.stat().st_mtime_ns for m in meshes]
    QualityBench(settings, results, tmp_path / "work", append=True).rescore(jobs=2)
    rescored = json.loads((results / "quality.json").read_text())
    assert rescored["rescored"] and rescored["command"].count("  +  ") == 2
    kept = ("wall_s", "it_per_s", "losses", "run_dir")  # the runs' own records; only the mesh is new
    assert [[r["run"][k] for k in kept] for r in rescored["results"]] == [
        [r["run"][k] for k in kept] for r in data["results"]
    ]
    assert all(m.stat().st_mtime_ns > t for m, t in zip(meshes, exported, strict=True))  # extracted again
    assert all(r["error"] is None and r["iou"] is not None for r in rescored["results"])

    with pytest.raises(EngineError, match=r"other settings.*steps: 3 there, 4 here"):
        QualityBench(dataclasses.replace(settings, steps=4), results, tmp_path / "work", append=True)
    with pytest.raises(EngineError, match="nothing to append to"):
        QualityBench(settings, tmp_path / "elsewhere", tmp_path / "work", append=True)
