"""What a benchmark ran on: cores, CPU model, platform, Python and torch versions."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    """Plain facts about the machine; None where a results file did not record one (it predates the envelope)."""

    cores: int | None
    cpu: str | None
    platform: str | None
    python: str | None
    torch: str | None


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def this_machine() -> Machine:
    """This machine; torch is not imported (its version comes from the package metadata)."""
    return Machine(
        cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        cpu=cpu_model(),
        platform=platform.platform(),
        python=platform.python_version(),
        torch=_version("torch"),
    )
