"""``python -m bench --smoke``: the smoke run end to end (real engine runs, metrics, strips, report), the
quality suite's prompts and front verdicts, and a failed engine run's record."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bench.engine_run import EngineRequest, run_engine
from bench.quality import QualityBench, QualitySettings, front_verdict
from bench.results_file import SCHEMA_VERSION
from bench.smoke import SMOKE_STEPS
from bench.suite import ABLATION_PROMPTS, SUITE, ablations_named, check_prompts, entries_for
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
def test_a_shard_without_baselines_runs_only_the_ablations(
    baselines: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured: list[tuple[str, str]] = []
    monkeypatch.setattr(
        QualityBench, "_measure", lambda self, prompt, category, variant, extra: measured.append((prompt, variant))
    )
    bench = QualityBench(QualitySettings(preset="fast"), tmp_path / "results", tmp_path / "work")
    bench.run(entries_for(["a red cube"]), ablations_named(["oracle"]), ["a pink mug"], baselines=baselines)
    expected = [("a red cube", "baseline"), ("a pink mug", "baseline")] if baselines else []
    assert measured == [*expected, ("a pink mug", "oracle")]
