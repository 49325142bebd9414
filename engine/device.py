"""Where the engine runs and in which precision the diffusion model runs there.

"auto" prefers CUDA, then Apple's MPS, then the CPU, so the same settings work on every machine.
Half precision is for GPUs only: CPU kernels in float16 are slow or missing.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .config import DEVICES as DEVICE_CHOICES
from .errors import EngineError


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def choose_device(name: str) -> torch.device:
    """The torch device for a ``RunConfig.device`` setting; an unavailable GPU is a user error."""
    if name not in DEVICE_CHOICES:
        raise EngineError(f"unknown device {name!r}; choose one of: {', '.join(DEVICE_CHOICES)}", "device")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise EngineError(
            "CUDA was requested but this torch build sees no CUDA GPU; choose device 'auto' or 'cpu', "
            "or install a CUDA build of torch",
            "device",
        )
    if name == "mps" and not _mps_available():
        raise EngineError(
            "MPS was requested but it is not available (it needs Apple silicon and macOS 12.3+); "
            "choose device 'auto' or 'cpu'",
            "device",
        )
    return torch.device(name)


def use_cpu_threads(device: torch.device, threads: int) -> None:
    """Torch's thread count for work on ``device`` when it is the CPU (RunConfig.cpu_threads: one thread is the
    fast choice on a shared 2-core machine); a GPU run keeps torch's default for its host-side work."""
    if device.type == "cpu":
        torch.set_num_threads(max(1, threads))


# GPUs whose float16 diffusion output is black or NaN (GTX 16xx: the public projects' reports, and
# diffusers' advice to run them in float32).
HALF_PRECISION_FAILS = ("GTX 16",)


def half_precision_fails(device: torch.device) -> bool:
    """Whether ``device`` is a GPU known to give black or NaN images in float16."""
    if device.type != "cuda":
        return False
    name = torch.cuda.get_device_name(device)
    return any(marker in name for marker in HALF_PRECISION_FAILS)


def denoiser_dtype(device: torch.device, half: bool) -> torch.dtype:
    """float16 for the frozen diffusion model on a GPU when ``half`` is set, else float32; float32 on the GPUs
    where float16 is known to fail, whatever ``half`` says."""
    if half and device.type in ("cuda", "mps") and not half_precision_fails(device):
        return torch.float16
    return torch.float32


# What torch's CPU allocator and numpy say when RAM runs out (torch.OutOfMemoryError is the accelerators' only).
_RAM_EXHAUSTED = ("DefaultCPUAllocator: can't allocate memory", "not enough memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the run's device or the machine's RAM running out."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(words in str(exc) for words in _RAM_EXHAUSTED)


def out_of_memory_error(device: torch.device, run_dir: Path, low_memory_helps: bool = False) -> EngineError:
    """The sentence for a run that ran out of memory on ``device``: what to change, and how to go on.

    ``low_memory_helps``: the run's prior has a low-memory mode that is off (guidance.low_memory).
    """
    resume = f"generate --resume {run_dir}"
    low_memory = ""
    if low_memory_helps:
        low_memory = f"go on from its last checkpoint in low-memory mode ({resume} --low-memory), "
    on_cpu = "" if device.type == "cpu" else f", or go on from its last checkpoint on the CPU: {resume} --device cpu"
    return EngineError(
        f"the run ran out of {device.type.upper()} memory; {low_memory}close what else uses it, or lower the render "
        f"size (--set render.resolution=32){on_cpu}",
        "memory",
    )
