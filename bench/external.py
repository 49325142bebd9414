"""The other benchmark scripts (mesh, import, GPU priors, procedural prior), each run as is in its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPTS = {
    "mesh": "bench.mesh_bench",  # marching cubes and bake at 256^3 (CPU)
    "import": "bench.import_bench",  # Blender import of a 300k-triangle mesh (bpy)
    "gpu": "bench.gpu_priors",  # full-size learned priors with random weights (CUDA)
    "full-size": "bench.full_size",  # SD 2.1-base at full size with random weights, prompt to mesh on the CPU
    "prior": "bench.procedural_prior",  # the procedural prior's costs and 2D SDS behaviour (CPU)
    "batch": "bench.batch_bench",  # engine batch: local executor against --ray local
    "reliability": "bench.reliability",  # cancel/kill/parent-death cycles and the bad-input matrix (CPU)
}


def run_script(name: str, args: list[str]) -> int:
    """Run one script with its own arguments; its exit code."""
    return subprocess.run([sys.executable, "-m", SCRIPTS[name], *args], cwd=ROOT, stdin=subprocess.DEVNULL).returncode


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
