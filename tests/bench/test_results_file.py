"""The one results envelope: what is written is what is read back, and a file that is not usable says why."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.machine import Machine, this_machine
from bench.results_file import SCHEMA_VERSION, Envelope, ResultFileError, Results, read_results, write_results


def test_results_are_written_whole(tmp_path: Path) -> None:
    path = write_results(tmp_path / "x.json", Results(Envelope.now("speed", command="bench"), {"rows": []}))
    assert json.loads(path.read_text())["command"] == "bench"
    assert not list(tmp_path.glob("*.partial"))


def test_a_file_added_to_on_another_machine_names_both() -> None:
    earlier = Machine(2, "Intel(R) Xeon(R) Processor", "Linux-x86_64", "3.11.7", "2.13.0+cpu")
    later = Machine(2, "AMD EPYC", "Linux-x86_64", "3.11.7", "2.13.0+cpu")
    both = earlier.then(later)
    assert both == Machine(2, "Intel(R) Xeon(R) Processor, then AMD EPYC", "Linux-x86_64", "3.11.7", "2.13.0+cpu")
    assert earlier.then(earlier) == earlier
    assert both.then(later) == both  # a third session on the same machine names it once
    assert earlier.then(Machine(16, "AMD EPYC", "Linux-x86_64", "3.11.7", "2.13.0+cpu")).cores is None


def test_an_envelope_round_trip(tmp_path: Path) -> None:
    payload = {"rows": [{"preset": "fast", "it_per_s": 5.562, "error": None}], "prompt": "a yellow duck"}
    written = Results(Envelope.now("speed"), payload)
    path = write_results(tmp_path / "speed.json", written)
    read = read_results(path, "speed")
    assert read == written
    envelope = read.envelope
    assert envelope.schema == SCHEMA_VERSION and envelope.machine == this_machine()
    assert abs(datetime.fromisoformat(envelope.created) - datetime.now(UTC)) < timedelta(minutes=5)
    assert envelope.command.split()[:2] == [Path(sys.executable).name, "-m"]  # pytest's own command line
    on_disk = json.loads(path.read_text())
    assert list(on_disk)[:5] == ["schema", "kind", "command", "created", "machine"]  # the envelope first
    assert on_disk["rows"] == payload["rows"] and on_disk["machine"] == asdict(this_machine())


def test_a_payload_cannot_overwrite_the_envelope(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="machine"):
        write_results(tmp_path / "x.json", Results(Envelope.now("mesh"), {"machine": "x86_64"}))
    assert not (tmp_path / "x.json").exists()


def test_a_missing_file_is_not_an_error(tmp_path: Path) -> None:
    assert read_results(tmp_path / "speed.json", "speed") is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{ not json", "is not readable JSON"),
        (json.dumps({"schema": SCHEMA_VERSION, "kind": "quality"}), "is not speed results of schema"),
        (json.dumps({"schema": SCHEMA_VERSION + 1, "kind": "speed"}), "is not speed results of schema"),
        (json.dumps(["speed"]), "is not speed results of schema"),
        (json.dumps({"schema": SCHEMA_VERSION, "kind": "speed", "command": "x", "created": None}), "incomplete"),
        (
            json.dumps({"schema": SCHEMA_VERSION, "kind": "speed", "command": "x", "created": None, "machine": {}}),
            "incomplete envelope",
        ),
    ],
)
def test_an_unusable_file_is_named_with_the_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "speed.json"
    path.write_text(text)
    with pytest.raises(ResultFileError) as caught:
        read_results(path, "speed")
    assert caught.value.path == path and reason in caught.value.reason
    assert str(caught.value).startswith("speed.json ")


def test_lists_of_numbers_stay_on_one_line_and_read_back_equal(tmp_path: Path) -> None:
    payload = {"losses": [[10, 16.25], [20, -1.5e-05]], "names": ["a", "b"], "nested": {"xyz": [0.1, 2, 3]}}
    path = write_results(tmp_path / "r.json", Results(Envelope.now("quality", command="test"), payload))
    text = path.read_text()
    assert "[10, 16.25]" in text and "[20, -1.5e-05]" in text and "[0.1, 2, 3]" in text
    assert '"a",\n' in text  # other lists keep one item a line
    assert read_results(path, "quality").payload == payload
