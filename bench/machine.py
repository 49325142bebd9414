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

    def then(self, later: Machine) -> Machine:
        """The machine of a results file measured here, then added to on ``later``: each fact that differs is
        given as "earlier, then later" (a count that differs is not known for the whole file: None)."""

        def joined(earlier: str | None, now: str | None) -> str | None:
            last = earlier.rpartition(", then ")[2] if earlier is not None else None
            return earlier if last == now else f"{earlier}, then {now}"

        return Machine(
            cores=self.cores if self.cores == later.cores else None,
            cpu=joined(self.cpu, later.cpu),
            platform=joined(self.platform, later.platform),
            python=joined(self.python, later.python),
            torch=joined(self.torch, later.torch),
        )


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
