"""``python -m engine doctor``: can this Python run the engine? One ``result`` event, always exit 0.

It runs in the Python the add-on is set to use, so a broken or half-installed environment must
still produce a report: nothing heavier than the standard library is imported before its own
check, and each missing or unimportable package becomes a sentence in ``problems``. ``ready`` is
true only when there are no problems; the add-on marks its private environment ready on that.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__, protocol
from ..config import DEVICES, GuidanceConfig
from ..errors import EngineError
from ..memory_needs import memory_needs
from ..model_discovery import discover
from ..payloads import CudaReport, DoctorReport, GpuMemory, MemoryNeed, MemoryReport, result_fields

HELP = "Check that this Python can run the engine: versions, device, free memory, models (JSON result event)."

# Import name -> distribution name of everything the engine needs.
REQUIRED_PACKAGES = {
    "torch": "torch",
    "numpy": "numpy",
    "diffusers": "diffusers",
    "transformers": "transformers",
    "accelerate": "accelerate",
    "safetensors": "safetensors",
    "tokenizers": "tokenizers",
    "trimesh": "trimesh",
    "mcubes": "PyMCubes",
    "xatlas": "xatlas",
    "scipy": "scipy",
    "PIL": "pillow",
}
# Compiled packages whose import is cheap: imported for real, so a broken build is caught here.
IMPORTED_PACKAGES = ("torch", "numpy", "safetensors", "mcubes", "xatlas", "PIL")

REPAIR = "click Repair Engine in the add-on preferences"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help=f"the device setting to check: {', '.join(DEVICES)}")
    parser.add_argument(
        "--folder", action="append", default=[], type=Path, help="an extra folder with models (repeatable)"
    )


@dataclass
class PackageCheck:
    """Distribution versions (None: absent) and which required packages are missing or fail to import."""

    versions: dict[str, str | None] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)  # distribution -> first line of its import error

    def problems(self) -> list[str]:
        sentences = (
            [f"This Python lacks {', '.join(self.absent)}; {REPAIR} (or pip install them into this Python)."]
            if self.absent
            else []
        )
        sentences += [
            f"{dist} is installed but cannot be imported ({reason}); {REPAIR} (or reinstall it in this Python)."
            for dist, reason in self.broken.items()
        ]
        return sentences


def check_packages() -> PackageCheck:
    """Find every required package; import the cheap compiled ones, so a broken build is caught."""
    check = PackageCheck()
    for module, dist in REQUIRED_PACKAGES.items():
        if importlib.util.find_spec(module) is None:
            check.versions[dist] = None
            check.absent.append(dist)
            continue
        try:
            check.versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            check.versions[dist] = "unknown"
        if module in IMPORTED_PACKAGES:
            try:
                importlib.import_module(module)
            except Exception as exc:  # any failure to import is the finding, not a crash
                text = str(exc).strip()
                check.broken[dist] = text.splitlines()[0] if text else type(exc).__name__
    return check


def ram_bytes() -> MemoryReport:
    """Total and available system memory (psutil when present, else POSIX sysconf)."""
    try:
        import psutil

        memory = psutil.virtual_memory()
        return MemoryReport(total_bytes=int(memory.total), available_bytes=int(memory.available))
    except ImportError:
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return MemoryReport(
            total_bytes=page * os.sysconf("SC_PHYS_PAGES"), available_bytes=page * os.sysconf("SC_AVPHYS_PAGES")
        )
    except (AttributeError, ValueError, OSError):  # not POSIX, or the name is unknown here
        return MemoryReport(total_bytes=None, available_bytes=None)


@dataclass(frozen=True)
class DeviceCheck:
    """The device ``device_requested`` gives (None when unusable), the one "auto" picks, what torch sees, and what
    the learned priors' weights take there; all None but the request when torch cannot be imported. Named as the
    report's fields, which it fills."""

    device_requested: str
    device: str | None = None
    device_auto: str | None = None
    cuda: CudaReport | None = None
    mps: bool | None = None
    memory_needs: list[MemoryNeed] = field(default_factory=list)


def check_devices(requested: str, problems: list[str]) -> DeviceCheck:
    """What torch offers here, with CUDA GPUs' free memory; an unusable ``requested`` becomes a sentence."""
    import torch

    from ..device import choose_device, denoiser_dtype

    gpus = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            gpus.append(GpuMemory(name=torch.cuda.get_device_name(index), total_bytes=int(total), free_bytes=int(free)))
    mps = getattr(torch.backends, "mps", None)
    try:
        device: torch.device | None = choose_device(requested)
    except EngineError as exc:
        problems.append(str(exc).rstrip(".") + ".")
        device = None
    needs = []
    if device is not None:
        dtype = str(denoiser_dtype(device, GuidanceConfig().half_precision)).removeprefix("torch.")
        free = int(torch.cuda.mem_get_info(device)[0]) if device.type == "cuda" else None
        needs = memory_needs(dtype, free)
    chosen = None if device is None else device.type
    return DeviceCheck(
        device_requested=requested,
        device=chosen,
        device_auto=choose_device("auto").type,
        cuda=CudaReport(available=bool(gpus), version=torch.version.cuda, devices=gpus),
        mps=bool(mps is not None and mps.is_available()),
        memory_needs=needs,
    )


def run(args: argparse.Namespace) -> int:
    problems: list[str] = []
    if sys.version_info < protocol.MIN_PYTHON:
        problems.append(
            f"This is Python {platform.python_version()}; the engine needs Python "
            f"{'.'.join(map(str, protocol.MIN_PYTHON))} or newer."
        )
    packages = check_packages()
    problems += packages.problems()
    devices = (
        check_devices(args.device, problems)
        if packages.versions["torch"] is not None and "torch" not in packages.broken
        else DeviceCheck(device_requested=args.device)
    )
    models = discover(args.folder)
    report = DoctorReport(
        ready=not problems,
        problems=problems,
        python=platform.python_version(),
        python_executable=sys.executable,
        platform=f"{platform.system()} {platform.machine()}",
        engine=__version__,
        torch=packages.versions["torch"],
        packages=packages.versions,
        memory=ram_bytes(),
        **vars(devices),  # its fields, not converted to dicts as asdict would
        models=models.models,
        model_problems=models.problems,
        cache_dir=models.cache_dir,
    )
    protocol.emit(protocol.RESULT, **result_fields(report))
    return 0
