"""One envelope for every benchmark's results file: schema version, kind, command, time and machine.

Every benchmark writes through ``write_results`` and the report reads through ``read_results``, so a
stale or foreign file is named as such instead of being misread. On disk the envelope's fields and the
benchmark's own payload share one JSON object (envelope first).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.atomic_write import write_text

from .machine import Machine, this_machine

SCHEMA_VERSION = 1
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPORT_PATH = Path(__file__).resolve().parent / "REPORT.md"  # regenerated from RESULTS_DIR by bench/report.py


@dataclass(frozen=True)
class ResultsFile:
    """Where one benchmark's results live under the results folder, and the kind their envelope names."""

    kind: str
    name: str


QUALITY = ResultsFile("quality", "quality.json")
ABLATIONS = ResultsFile("ablations", "ablations.json")  # the paper's ablations over several seeds
# one-off studies keep a quality or ablations file in a folder of their own (bench/studies.py)
SPEED = ResultsFile("speed", "speed.json")
GPU = ResultsFile("gpu", "gpu_priors.json")
DEVICE_CHECK = ResultsFile("device-check", "device_check.json")
FULL_SIZE = ResultsFile("full-size", "full_size.json")  # SD 2.1-base at full size on the CPU (bench/full_size.py)
MESH = ResultsFile("mesh", "mesh_bench.json")
IMPORT = ResultsFile("import", "import_bench.json")
PRIOR = ResultsFile("prior", "procedural_prior.json")
BATCH = ResultsFile("batch", "batch_bench.json")
RELIABILITY = ResultsFile("reliability", "reliability.json")


class ResultFileError(ValueError):
    """A results file that exists but cannot be used (unreadable, another schema or kind, no envelope)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path.name} {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Envelope:
    """What produced a results file, where and when."""

    schema: int
    kind: str
    command: str | None  # None: not recorded (a file re-wrapped from the format before the envelope)
    created: str | None  # ISO 8601, UTC; None: not recorded
    machine: Machine

    @classmethod
    def now(cls, kind: str, command: str | None = None) -> Envelope:
        """An envelope for results measured by this process, on this machine, now."""
        created = datetime.now(UTC).isoformat(timespec="seconds")
        return cls(SCHEMA_VERSION, kind, command or command_line(), created, this_machine())


ENVELOPE_FIELDS = frozenset(f.name for f in fields(Envelope))


@dataclass(frozen=True)
class Results:
    """One results file: the envelope and the benchmark's own payload (its shape is the benchmark's)."""

    envelope: Envelope
    payload: dict[str, Any]


def command_line() -> str:
    """This process's command line as one would retype it (``python -m bench.mesh_bench ...``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    program = ["-m", spec.name.removesuffix(".__main__")] if spec is not None else [sys.argv[0]]
    return " ".join([Path(sys.executable).name, *program, *sys.argv[1:]])


# An innermost list of numbers, as ``json.dumps(indent=2)`` spreads it over one line per number.
_NUMBER_LIST = re.compile(r"\[\s+(-?[\d.eE+-]+(?:,\s+-?[\d.eE+-]+)*)\s+\]")


def write_results(path: Path, results: Results) -> Path:
    """Write atomically, so an interrupted benchmark never leaves a half-written file behind. Indented for
    reading and diffs, but each innermost list of numbers on one line (a run's (step, loss) pairs would
    otherwise take four lines each: a suite's file grew past 1 MiB)."""
    clash = ENVELOPE_FIELDS & results.payload.keys()
    if clash:
        raise ValueError(f"payload fields {sorted(clash)} would overwrite the envelope's")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({**asdict(results.envelope), **results.payload}, indent=2)
    text = _NUMBER_LIST.sub(lambda match: "[" + " ".join(match.group(1).split()) + "]", text)
    return write_text(path, text + "\n")


def read_results(path: Path, kind: str) -> Results | None:
    """The results of ``kind`` at ``path``; None when the benchmark has not been run."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultFileError(path, f"is not readable JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("kind") != kind or data.get("schema") != SCHEMA_VERSION:
        raise ResultFileError(path, f"is not {kind} results of schema {SCHEMA_VERSION}")
    try:
        envelope = Envelope(data["schema"], data["kind"], data["command"], data["created"], Machine(**data["machine"]))
    except (KeyError, TypeError) as exc:
        raise ResultFileError(path, f"has an incomplete envelope ({exc})") from exc
    return Results(envelope, {key: value for key, value in data.items() if key not in ENVELOPE_FIELDS})
