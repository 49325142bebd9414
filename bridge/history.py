"""One run as the history list keeps it (finished, or stopped with a checkpoint to resume); the .blend stores
these fields, one property each."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..engine.batch.prompt_run import has_checkpoint
from .command_line import GenerateRequest
from .engine_run import WORKER_LOG
from .run_state import RunState, RunStatus


@dataclass(frozen=True)
class RunRecord:
    prompt: str
    created: str  # local time, "2025-11-21 19:59"
    run_dir: str
    mesh: str  # Blender-ready mesh.npz; "" for a run stopped before it made one
    glb: str
    thumbnail: str  # the last preview PNG, "" if the run made none
    prior: str
    steps: int  # the steps it ran (a stopped run: the step of its checkpoint)
    seed: int
    elapsed_s: float
    threshold: float  # iso-level the mesh was extracted at; 0.0 when the engine did not say
    status: str = RunStatus.DONE.value  # "done", or "cancelled" / "failed": Resume continues it from its checkpoint
    message: str = ""  # how a stopped run ended, as the panel said it

    @property
    def finished(self) -> bool:
        return self.status == RunStatus.DONE

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

    @classmethod
    def from_stopped(cls, request: GenerateRequest, state: RunState, created: datetime) -> RunRecord | None:
        """The record of a cancelled or failed run that left a checkpoint to resume from; None when it left none."""
        run_dir = Path(state.run_dir or request.out)
        if state.status not in (RunStatus.CANCELLED, RunStatus.FAILED) or not has_checkpoint(run_dir):
            return None
        step = state.cancelled_at_step if state.cancelled_at_step is not None else state.step
        return cls(
            prompt=request.prompt,
            created=f"{created:%Y-%m-%d %H:%M}",
            run_dir=str(run_dir),
            mesh="",
            glb="",
            thumbnail=state.preview_path,
            prior=request.prior,
            steps=step,
            seed=request.seed,
            elapsed_s=0.0,
            threshold=0.0,
            status=state.status.value,
            message=state.error or state.message,
        )


def request_of(record: RunRecord) -> GenerateRequest:
    """The request a record's run was started with, as far as the record tells (a resume reads the rest from
    the run folder's config.json)."""
    return GenerateRequest(
        prompt=record.prompt, out=Path(record.run_dir), prior=record.prior, seed=record.seed, steps=record.steps
    )


def discard_empty_run(run_dir: Path) -> bool:
    """Remove a run folder that holds nothing but the add-on's own worker.log (a run the engine refused before it
    wrote anything: an unknown word, a missing model); the sentence shown says why. True when it was removed."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or [path.name for path in run_dir.iterdir()] != [WORKER_LOG]:
        return False
    shutil.rmtree(run_dir)
    return True
