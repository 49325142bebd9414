"""A complete doctor report for tests that need one without running the doctor (a real run takes seconds)."""

from __future__ import annotations

from dataclasses import replace

from engine.model_discovery import procedural_entry
from engine.payloads import CudaReport, DoctorReport, MemoryReport


def doctor_report(**changes: object) -> DoctorReport:
    """What the doctor says on a CPU machine with a ready environment, with ``changes`` applied."""
    report = DoctorReport(
        ready=True,
        problems=[],
        python="3.11.7",
        python_executable="/studio/engine-env/bin/python",
        platform="Linux x86_64",
        engine="0.1.0",
        torch="2.13.0",
        packages={"torch": "2.13.0", "diffusers": "0.36.0", "xatlas": None},
        memory=MemoryReport(total_bytes=16_000_000_000, available_bytes=9_500_000_000),
        device_requested="auto",
        device="cpu",
        device_auto="cpu",
        models=[procedural_entry()],
        model_problems=[],
        cache_dir="/studio/hub",
        cuda=CudaReport(available=False, version=None, devices=[]),
        mps=False,
    )
    return replace(report, **changes)
