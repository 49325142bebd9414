"""Which torch build the private environment gets, and from which package index (standard library only)."""

from __future__ import annotations

import platform
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

CPU_INDEX_URL = "https://download.pytorch.org/whl/cpu"
CUDA_INDEX_URL = "https://download.pytorch.org/whl/cu128"  # Windows only: PyPI's Windows torch is CPU-only


@dataclass(frozen=True)
class TorchBuild:
    """The torch build for this machine and the package index that has it (None: PyPI's default)."""

    name: str  # "cuda" | "mps" | "cpu"
    index_url: str | None


def choose_torch_build(system: str, machine: str, has_nvidia_gpu: bool) -> TorchBuild:
    """CUDA where an NVIDIA GPU is present, MPS on Apple silicon, CPU otherwise.

    PyPI's Linux x86-64 torch is already the CUDA build; Windows needs PyTorch's CUDA index; the CPU
    index spares machines without a GPU gigabytes of CUDA libraries.
    """
    if system == "Darwin":
        return TorchBuild("mps" if machine == "arm64" else "cpu", None)
    if has_nvidia_gpu and system == "Linux":
        return TorchBuild("cuda", None)
    if has_nvidia_gpu and system == "Windows":
        return TorchBuild("cuda", CUDA_INDEX_URL)
    return TorchBuild("cpu", CPU_INDEX_URL)


def detect_torch_build() -> TorchBuild:
    """``choose_torch_build`` for this machine; an NVIDIA driver is recognised by its ``nvidia-smi``."""
    return choose_torch_build(platform.system(), platform.machine(), shutil.which("nvidia-smi") is not None)


def torch_requirement(requirements: Path) -> str:
    """The torch line of the requirements file (one source of the pinned version)."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if re.match(r"^torch(?![\w.-])", text):
            return text
    raise ValueError(f"{requirements} has no torch requirement")
