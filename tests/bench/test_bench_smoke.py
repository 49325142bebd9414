"""``python -m bench``: the smoke run end to end (real engine runs, metrics, strips, report), and the
report's honesty: it shows what the JSON holds and says "not run" for the rest."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bench.engine_run import EngineRequest, run_engine
from bench.quality import front_verdict
from bench.report import ablation_matrix, ablation_rows, build_report
from bench.schema import SCHEMA_VERSION, envelope, write_result
from bench.smoke import SMOKE_STEPS
from bench.suite import ABLATION_PROMPTS, SUITE, check_prompts
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


def test_report_without_results_invents_nothing(tmp_path: Path) -> None:
    report = build_report(tmp_path / "results", tmp_path / "REPORT.md").read_text()
    assert "Not run: no `quality.json` yet" in report and "Not run: no `speed.json` yet" in report
    body = report.split("## Quality", 1)[1]
    assert not re.search(r"\d\.\d", body)  # no measurements anywhere
    assert not (tmp_path / "results" / "plots").exists()


def test_report_names_a_file_of_another_schema(tmp_path: Path) -> None:
    (tmp_path / "speed.json").write_text(json.dumps({"schema": SCHEMA_VERSION + 1, "kind": "speed"}))
    report = build_report(tmp_path, tmp_path / "REPORT.md").read_text()
    assert "Not usable" in report and "speed.json" in report


def _result(prompt: str, variant: str, iou: float, fronts: list[str]) -> dict:
    verdict = front_verdict(fronts, [])
    return {
        "prompt": prompt,
        "category": "fronted",
        "variant": variant,
        "iou": iou,
        "front_ok": verdict == "ok",
        "janus": verdict == "janus",
        "fronts": [{"shape": prompt.split()[-1], "fronts": fronts, "verdict": verdict}],
        "error": None,
    }


def test_ablation_rows_pair_each_run_with_its_prompts_baseline() -> None:
    quality = {
        "ablations": [{"name": "no-view-prompts", "description": "x", "overrides": []}],
        "results": [
            _result("a yellow duck", "baseline", 0.60, ["-Y"]),
            _result("a brown chair", "baseline", 0.50, ["-Y"]),
            _result("a yellow duck", "no-view-prompts", 0.45, ["-Y", "+Y"]),
            _result("a brown chair", "no-view-prompts", 0.40, ["-Y"]),
        ],
    }
    (row,) = ablation_rows(quality)
    assert math.isclose(row["mean_delta_iou"], ((0.45 - 0.60) + (0.40 - 0.50)) / 2)
    assert math.isclose(row["baseline_iou"], 0.55) and math.isclose(row["iou"], 0.425)
    assert (row["baseline_front_ok"], row["front_ok"], row["baseline_janus"], row["janus"]) == (2, 1, 0, 1)

    header, matrix = ablation_matrix(quality)
    assert header == ["prompt", "baseline", "no-view-prompts"]
    assert matrix == [["a yellow duck", "0.600 (ok)", "0.450 (janus)"], ["a brown chair", "0.500 (ok)", "0.400 (ok)"]]


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


def test_a_failed_engine_run_is_recorded_with_the_engines_message(tmp_path: Path) -> None:
    record = run_engine(EngineRequest("a plaid cube", steps=1), tmp_path / "run")
    assert record.exit_code == 2 and not record.ok
    assert record.error is not None and "plaid" in record.error
    assert record.peak_rss_mib > 10


def test_results_are_written_whole(tmp_path: Path) -> None:
    path = write_result(tmp_path / "x.json", envelope("speed", {"rows": []}, command=["bench"]))
    assert json.loads(path.read_text())["command"] == "bench"
    assert not list(tmp_path.glob("*.partial"))
