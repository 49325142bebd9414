"""One finished run as the history list keeps it; the .blend stores these fields, one property each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .command_line import GenerateRequest
from .run_state import RunState


@dataclass(frozen=True)
class RunRecord:
    prompt: str
    created: str  # local time, "2025-11-21 19:59"
    run_dir: str
    mesh: str  # Blender-ready mesh.npz
    glb: str
    thumbnail: str  # the last preview PNG, "" if the run made none
    prior: str
    steps: int
    seed: int
    elapsed_s: float
    threshold: float  # iso-level the mesh was extracted at; 0.0 when the engine did not say

    @classmethod
    def from_run(cls, request: GenerateRequest, state: RunState, created: datetime) -> RunRecord:
        """The record of a run that finished with a ``done`` event."""
        if state.result is None:
            raise ValueError("only a finished run has a record")
        result = state.result
        return cls(
            prompt=request.prompt,
            created=f"{created:%Y-%m-%d %H:%M}",
            run_dir=str(result.get("run_dir") or state.run_dir),
            mesh=str(result["mesh"]),
            glb=str(result.get("glb") or ""),
            thumbnail=state.preview_path,
            prior=request.prior,
            steps=int(result.get("steps") or state.total),
            seed=request.seed,
            elapsed_s=float(result.get("elapsed_s") or 0.0),
            threshold=float(result.get("threshold") or 0.0),
        )
