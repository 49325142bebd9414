"""The most memory a run has held: on its accelerator, and in the process's own RAM.

Out-of-memory is the GPU users' most common failure, so every run reports its peak (progress and ``done``
events) and the device check compares it with the targets. CUDA has true peaks (``max_memory_allocated``:
tensors; ``max_memory_reserved``: what the caching allocator holds, what ``nvidia-smi`` shows). MPS offers only
the memory held now, so its peak is the largest of the samples taken at each report. The process's peak
resident memory comes from ``resource`` (absent on Windows: None).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]


@dataclass(frozen=True)
class PeakMemory:
    """Peaks in bytes; None where the platform does not say. ``device`` is the torch device type."""

    device: str
    allocated_bytes: int | None  # tensors on the accelerator (None on the CPU)
    reserved_bytes: int | None  # held by torch's allocator (CUDA) or its driver (MPS)
    process_bytes: int | None  # the process's peak resident memory (RAM)

    @property
    def headline_bytes(self) -> int | None:
        """The one number a person reads: the accelerator's reserved peak, or the RAM peak on the CPU."""
        return self.process_bytes if self.device == "cpu" else self.reserved_bytes or self.allocated_bytes


def process_peak_bytes() -> int | None:
    """This process's peak resident memory so far."""
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS reports bytes, Linux KiB


class PeakMemoryMeter:
    """One device's peak memory since the process started (each run is a process of its own, so CUDA's peak
    includes loading the prior); ``sample`` is cheap enough for every progress event."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._mps_allocated = 0
        self._mps_driver = 0

    def sample(self) -> PeakMemory:
        if self.device.type == "cuda":
            allocated = int(torch.cuda.max_memory_allocated(self.device))
            reserved: int | None = int(torch.cuda.max_memory_reserved(self.device))
        elif self.device.type == "mps":
            self._mps_allocated = max(self._mps_allocated, int(torch.mps.current_allocated_memory()))
            self._mps_driver = max(self._mps_driver, int(torch.mps.driver_allocated_memory()))
            allocated, reserved = self._mps_allocated, self._mps_driver
        else:
            return PeakMemory(self.device.type, None, None, process_peak_bytes())
        return PeakMemory(self.device.type, allocated, reserved, process_peak_bytes())
