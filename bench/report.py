"""``bench/REPORT.md`` from whatever results JSON exists: each benchmark's own section, in order, then the targets.

Each section names its results file, and the payload class that reads it and the function that renders it, both from
its benchmark's results module (``bench/<runner>_results.py``); this module only assembles them. It imports results
modules, never a runner, so building the report loads none of the runners' torch, diffusers, bpy or Ray. A benchmark
without a results file is listed as not run, with the command that writes it. A file that is there but unusable (not
JSON, another kind or schema, a field missing or of another type) stops the report with a sentence naming the file
and the field: the report never shows a section of a file it could not read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.atomic_write import write_text
from engine.errors import EngineError

from .batch_bench_results import BatchPayload, batch_section
from .device_check_results import DeviceCheckPayload, device_check_section
from .full_size_results import FullSizePayload, full_size_section
from .gpu_priors_results import GpuPayload, gpu_section
from .import_bench_results import ImportPayload, import_section
from .mesh_bench_results import MeshPayload, mesh_section
from .payload import Measured, Payload, read_payload
from .procedural_prior_results import PriorPayload, procedural_prior_section
from .quality_results import QualityPayload, ablation_section, quality_section, seed_study_section
from .reliability_results import ReliabilityPayload, reliability_section
from .report_page import Page, table
from .results_file import (
    ABLATIONS,
    BATCH,
    DEVICE_CHECK,
    FULL_SIZE,
    GPU,
    IMPORT,
    MESH,
    PRIOR,
    QUALITY,
    RELIABILITY,
    REPORT_PATH,
    RESULTS_DIR,
    SPEED,
    ResultFileError,
    ResultsFile,
)
from .speed_results import SpeedPayload, speed_section
from .studies import STUDIES
from .targets import TARGETS

NOT_RUN = "Not run: no `{file}` yet (`{command}`)."


@dataclass(frozen=True)
class Section:
    """One part of the report: a heading, the results file it shows, its payload and the function that renders it."""

    title: str
    source: ResultsFile
    payload: type[Payload]
    command: str  # what writes ``source``
    render: Callable[[Page, Measured[Any]], None]
    not_run: str = NOT_RUN  # formatted with ``file`` and ``command``
    note: str = ""  # said under the results when they are there (what they were measured on, if not this tree)


QUALITY_TITLE = "Quality: procedural prior against ground truth"
QUALITY_COMMAND = "python -m bench quality --ablations"
ABLATIONS_COMMAND = "python -m bench ablations --jobs 2"
SECTIONS: tuple[Section, ...] = (
    Section(QUALITY_TITLE, QUALITY, QualityPayload, QUALITY_COMMAND, quality_section),
    Section("Oracle and ablations at the suite's settings", QUALITY, QualityPayload, QUALITY_COMMAND, ablation_section),
    Section("The paper's ablations over seeds", ABLATIONS, QualityPayload, ABLATIONS_COMMAND, seed_study_section),
    *(Section(s.title, s.results_file, QualityPayload, s.command(), s.render, note=s.note) for s in STUDIES),
    Section("Speed and memory (CPU)", SPEED, SpeedPayload, "python -m bench speed", speed_section),
    Section(
        "GPU: learned priors (random weights, throughput only)",
        GPU,
        GpuPayload,
        "python -m bench gpu",
        gpu_section,
        not_run="Not run: no GPU was lent to a benchmark run yet (no `{file}`). On a CUDA machine: `{command}`.",
    ),
    Section(
        "GPU: generate end to end (random weights, throughput only)",
        DEVICE_CHECK,
        DeviceCheckPayload,
        "bench/device_check.sh",
        device_check_section,
        not_run="Not run: no device lent yet (no `{file}`). On a lent GPU machine: `{command}` (README, GPU).",
    ),
    Section(
        "Full size on the CPU: Stable Diffusion 2.1-base (random weights, cost only)",
        FULL_SIZE,
        FullSizePayload,
        "python -m bench full-size",
        full_size_section,
    ),
    Section("Mesh extraction and bake (CPU)", MESH, MeshPayload, "python -m bench mesh", mesh_section),
    Section("Import into Blender", IMPORT, ImportPayload, "python -m bench import", import_section),
    Section(
        "Procedural prior: costs and 2D SDS", PRIOR, PriorPayload, "python -m bench prior", procedural_prior_section
    ),
    Section("Batches: local executor against Ray", BATCH, BatchPayload, "python -m bench batch", batch_section),
    Section(
        "Reliability: cancel, kill, parent death, bad input",
        RELIABILITY,
        ReliabilityPayload,
        "python -m bench reliability",
        reliability_section,
    ),
)


def section_lines(section: Section, results_dir: Path, report_path: Path) -> list[str]:
    """The section's body; a missing results file is the one case it has no results for."""
    name = section.source.name
    try:
        measured = read_payload(results_dir / name, section.source, section.payload)
    except ResultFileError as exc:
        raise EngineError(f"`{name}` {exc.reason}; `{section.command}` writes it anew", "input") from exc
    if measured is None:
        return [section.not_run.format(file=name, command=section.command), ""]
    page = Page(results_dir, report_path)
    section.render(page, measured)
    if section.note:
        page.add(section.note)
    return page.lines


def targets_lines() -> list[str]:
    """The targets table (bench/targets.py): every bar, what it judges and where it comes from."""
    rows = [[t.benchmark, t.text(), t.source] for t in TARGETS]
    return [*table(["benchmark", "target", "where the bar comes from"], rows), ""]


def build_report(
    results_dir: Path = RESULTS_DIR, report_path: Path = REPORT_PATH, sections: tuple[Section, ...] = SECTIONS
) -> Path:
    """Regenerate the report (and its plots) from the results in ``results_dir``."""
    page = Page(results_dir, report_path)
    page.add("# Benchmark report")
    page.add(
        f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} by `python -m bench report` from the JSON "
        f"in `{page.link(results_dir)}/`. Every number below was measured by the command named in its section; "
        "sections without results say so."
    )
    commands = ", ".join(f"`{command}`" for command in dict.fromkeys(s.command for s in sections))
    page.add(
        "Reproduce: `python -m bench all` (everything: quality suite with ablations, speed per preset, mesh, "
        "import, procedural prior, batch (local against Ray), GPU when CUDA is present, then this report), or one "
        f"part: {commands}."
    )
    for section in sections:
        page.add(f"## {section.title}")
        page.lines += section_lines(section, results_dir, report_path)
    page.add("## Targets")
    page.lines += targets_lines()
    report_path.parent.mkdir(parents=True, exist_ok=True)
    return write_text(report_path, "\n".join(page.lines).rstrip() + "\n")
