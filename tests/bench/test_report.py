"""The report's section loop and its honesty: it shows what the JSON holds, says "not run" for a missing
file and names a file it cannot use, in that file's own section; rebuilt from the committed results it is
the committed ``bench/REPORT.md``."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

from bench.quality import front_verdict
from bench.report import REPORT_PATH, SECTIONS, ablation_matrix, ablation_rows, build_report
from bench.results_file import RESULTS_DIR, SCHEMA_VERSION, Envelope, Results, write_results

FILES = {s.source.name: s.source.kind for s in SECTIONS}


def _sections(report: str) -> dict[str, str]:
    """Each ``## `` section's body by its title."""
    parts = re.split(r"^## (.+)$", report, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_report_without_results_invents_nothing(tmp_path: Path) -> None:
    report = build_report(tmp_path / "results", tmp_path / "REPORT.md").read_text()
    assert "Not run: no `quality.json` yet" in report and "Not run: no `speed.json` yet" in report
    body = report.split("## Quality", 1)[1]
    assert not re.search(r"\d\.\d", body)  # no measurements anywhere
    assert not (tmp_path / "results" / "plots").exists()


def test_every_missing_file_is_listed_as_not_run_in_its_section(tmp_path: Path) -> None:
    sections = _sections(build_report(tmp_path / "results", tmp_path / "REPORT.md").read_text())
    assert list(sections) == [s.title for s in SECTIONS]
    for section in SECTIONS:
        body = sections[section.title].strip()
        assert body.startswith("Not run: no") and f"`{section.source.name}`" in body, section.title
        assert f"`{section.command}`" in body


def test_report_names_a_file_of_another_schema(tmp_path: Path) -> None:
    (tmp_path / "speed.json").write_text(json.dumps({"schema": SCHEMA_VERSION + 1, "kind": "speed"}))
    report = build_report(tmp_path, tmp_path / "REPORT.md").read_text()
    assert "Not usable" in report and "speed.json" in report


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_file_of_another_kind_is_named_unusable_in_its_own_sections(tmp_path: Path, name: str) -> None:
    other = next(kind for kind in FILES.values() if kind != FILES[name])
    write_results(tmp_path / name, Results(Envelope.now(other, command="test"), {}))
    sections = _sections(build_report(tmp_path, tmp_path / "REPORT.md").read_text())
    for section in SECTIONS:
        body = sections[section.title]
        if section.source.name == name:
            assert f"Not usable: `{name}` is not {FILES[name]} results of schema {SCHEMA_VERSION}" in body
        else:
            assert "Not usable" not in body and "Not run" in body


def test_a_payload_of_another_shape_is_named_unusable(tmp_path: Path) -> None:
    write_results(tmp_path / "mesh_bench.json", Results(Envelope.now("mesh", command="test"), {"rows": []}))
    (tmp_path / "import_bench.json").write_text("{ not json")
    sections = _sections(build_report(tmp_path, tmp_path / "REPORT.md").read_text())
    assert "Not usable: `mesh_bench.json` lacks what this section shows" in sections["Mesh extraction and bake (CPU)"]
    assert "Not usable: `import_bench.json` is not readable JSON" in sections["Import into Blender"]
    assert "Not run" in sections["Procedural prior: costs and 2D SDS"]


def test_the_report_rebuilt_from_the_committed_results_is_the_committed_report(tmp_path: Path) -> None:
    """Every committed results file is readable, and ``bench/REPORT.md`` is what they render to today."""
    results = tmp_path / "results"
    results.mkdir()
    for name in FILES:
        if (RESULTS_DIR / name).is_file():
            shutil.copy(RESULTS_DIR / name, results / name)
    rebuilt = build_report(results, tmp_path / REPORT_PATH.name).read_text().splitlines()
    committed = REPORT_PATH.read_text().splitlines()
    generated = [i for i, line in enumerate(committed) if line.startswith("Generated ")]
    assert generated == [i for i, line in enumerate(rebuilt) if line.startswith("Generated ")] == [2]
    del rebuilt[2], committed[2]
    assert rebuilt == committed
    assert "Not usable" not in "\n".join(rebuilt)


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
