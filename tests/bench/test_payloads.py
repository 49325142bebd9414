"""Every committed results file loads through its benchmark's typed payload and writes back the same JSON, and a
file of another shape is named in a sentence with the file and the field (bench/payload.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.payload import PayloadError, to_json
from bench.quality_results import QualityPayload, QualitySettings
from bench.report import SECTIONS
from bench.results_file import ENVELOPE_FIELDS
from bench.speed_results import SpeedPayload

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = {section.source.kind: section.payload for section in SECTIONS}
COMMITTED = subprocess.run(
    ["git", "ls-files", "bench/results/*.json"], cwd=ROOT, capture_output=True, text=True, check=True
).stdout.split()


def _payload_of(path: Path) -> tuple[str, dict[str, Any]]:
    data = json.loads(path.read_text())
    return data["kind"], {key: value for key, value in data.items() if key not in ENVELOPE_FIELDS}


def _within(part: Any, whole: Any, where: str = "") -> list[str]:
    """Where ``part`` (a file's JSON) differs from ``whole`` (its payload written again); fields ``whole`` adds
    with their defaults (a field measured only since) are not differences."""
    if isinstance(part, dict):
        if not isinstance(whole, dict):
            return [where]
        return [d for key, value in part.items() for d in _within(value, whole.get(key, object()), f"{where}.{key}")]
    if isinstance(part, list):
        if not isinstance(whole, list) or len(part) != len(whole):
            return [where]
        return [d for i, (p, w) in enumerate(zip(part, whole, strict=True)) for d in _within(p, w, f"{where}[{i}]")]
    return [] if part == whole else [where]


def test_the_committed_results_are_there_and_each_kind_has_a_payload() -> None:
    assert len(COMMITTED) >= 14, COMMITTED
    kinds = {_payload_of(ROOT / name)[0] for name in COMMITTED}
    assert kinds <= PAYLOADS.keys(), f"no payload for {kinds - PAYLOADS.keys()}"


@pytest.mark.parametrize("name", COMMITTED)
def test_a_committed_results_file_loads_through_its_payload_and_writes_back_the_same(name: str) -> None:
    path = ROOT / name
    kind, data = _payload_of(path)
    payload = PAYLOADS[kind].from_json(data, path)
    written = payload.to_json()
    assert PAYLOADS[kind].from_json(written, path) == payload
    assert not _within(data, json.loads(json.dumps(written))), "fields that differ once written again"


def _quality_file() -> tuple[Path, dict[str, Any]]:
    path = ROOT / "bench" / "results" / "quality.json"
    return path, _payload_of(path)[1]


def test_a_missing_field_is_named_with_its_path() -> None:
    path, data = _quality_file()
    del data["results"][3]["run"]["wall_s"]
    with pytest.raises(PayloadError) as raised:
        QualityPayload.from_json(data, path)
    assert str(raised.value) == (
        "quality.json does not hold what its benchmark writes: results[3].run.wall_s is missing (float)"
    )


def test_a_renamed_field_is_named_as_unknown() -> None:
    path = ROOT / "bench" / "results" / "speed.json"
    data = _payload_of(path)[1]
    data["rows"][1]["run"]["wall_seconds"] = data["rows"][1]["run"].pop("wall_s")
    with pytest.raises(PayloadError, match=r"rows\[1\]\.run has fields this tree does not know: wall_seconds$"):
        SpeedPayload.from_json(data, path)


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        (lambda d: d["results"][0].update(iou="0.9"), "results[0].iou is '0.9', not a number"),
        (lambda d: d["results"][0]["run"].update(faces=True), "results[0].run.faces is True, not a whole number"),
        (lambda d: d.update(seeds={"0": 1}), "seeds is {'0': 1}, not a list"),
        (lambda d: d["settings"].update(overrides=[["a", 1, 2]]), "settings.overrides[0] has 3 items, not 2"),
        (lambda d: d["results"][0].update(fronts=None), "results[0].fronts is None, not a list"),
    ],
)
def test_a_field_of_another_type_is_named_with_what_it_holds(change: Any, sentence: str) -> None:
    path, data = _quality_file()
    change(data)
    with pytest.raises(PayloadError) as raised:
        QualityPayload.from_json(data, path)
    assert str(raised.value).endswith(f"writes: {sentence}")


def test_a_payload_that_is_not_an_object_is_named() -> None:
    with pytest.raises(PayloadError, match=r"x\.json does not hold what its benchmark writes: the payload is \[\]"):
        SpeedPayload.from_json([], Path("x.json"))


def test_tuples_paths_and_optional_fields_survive_the_round_trip() -> None:
    settings = QualitySettings(steps=3, overrides=(("field.grid_resolutions", [16, 32]),), cache_dir=Path("/c"))
    payload = QualityPayload(True, settings, [0, 1], [], [], rescored=True)
    written = json.loads(json.dumps(to_json(payload)))
    assert written["settings"]["cache_dir"] == "/c"
    assert written["settings"]["overrides"] == [["field.grid_resolutions", [16, 32]]]
    assert QualityPayload.from_json(written, Path("q.json")) == payload
