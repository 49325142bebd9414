"""One ``generate`` run in the folder it holds: prompt -> optimized field -> mesh with baked albedo, as events.

A stop (``stop`` on stdin, SIGINT/SIGTERM, a closed stdin or stdout) is honoured between the units of the prior's
preparation (engine/stage_progress.py), between steps, between turntable frames and between the chunks and stages
of meshing; the trained field is checkpointed before the turntable, so a run stopped or killed after optimization
is finished by ``--resume`` (which then only exports), or by ``remesh`` once its density grid is written.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch

from . import protocol
from .config import RunConfig
from .device import use_cpu_threads
from .guidance.base import DiffusionPrior
from .mesh.pipeline import export_run
from .prompts import run_suffixes
from .refinement.refine import MeshRefiner
from .run_folder import LOG_FILE, RunFolder
from .stage_progress import Progress, StageProgress, Stopped
from .stop_signal import StopSignal
from .trainer import Trainer


def prepare_prior(
    config: RunConfig, prior_class: type[DiffusionPrior], device: torch.device, cache_dir: Path, progress: Progress
) -> DiffusionPrior:
    """The run's prior, loaded and conditioned on its prompts; each prior reports its own work to ``progress``
    (loading weights, or rendering and baking its data), which may raise ``Stopped`` between units of it."""
    prior = prior_class.from_run_config(config, device, cache_dir, progress)
    prior.set_prompt(config.prompt, config.guidance.negative_prompt, run_suffixes(config.guidance), progress)
    prior.release_text_encoder()
    progress(1.0)
    return prior


def generate(folder: RunFolder, cache_dir: Path, stop: StopSignal) -> int:
    """Run ``folder``'s config from its checkpoint (or the start) to its ``done`` or ``cancelled`` event; 0."""
    run_dir, config = folder.path, folder.config
    emit = protocol.EventWriter(log_path=str(run_dir / LOG_FILE), on_closed=stop.request)
    started = time.perf_counter()
    use_cpu_threads(folder.device, config.cpu_threads)
    emit(
        protocol.STARTED,
        run_dir=str(run_dir),
        prompt=config.prompt,
        prior=config.guidance.prior,
        total=config.optim.steps,
        device=str(folder.device),
        resumed=folder.resumed,
    )
    messages = {"prior": f"preparing the {config.guidance.prior} prior", "refine": "refining the mesh"}
    progress = StageProgress(emit, stop, messages, uninterruptible=("export",))  # mesh files are replaced together

    def cancelled(step: int) -> int:
        emit(protocol.CANCELLED, step=step, checkpoint=str(run_dir / "checkpoint"))
        return 0

    try:
        prior = prepare_prior(config, folder.prior_class, folder.device, cache_dir, progress.of("prior"))
    except Stopped:
        return cancelled(folder.saved_step or 0)
    trainer = Trainer(config, prior, run_dir, emit, folder.device, stop)
    if folder.has_checkpoint:
        trainer.resume()
    if not trainer.optimize() or not trainer.write_turntable():
        return cancelled(trainer.step)
    density_fn, albedo_fn = trainer.field_callables()
    try:
        with trainer.field.frozen():
            result = export_run(
                density_fn,
                albedo_fn,
                config.mesh,
                trainer.field.bound,
                run_dir,
                progress,
                trainer.field.surface_density,
                MeshRefiner(config, prior, folder.device) if config.mesh.refine.steps else None,
            )
    except Stopped:
        return cancelled(trainer.step)
    emit(
        protocol.DONE,
        run_dir=str(run_dir),
        mesh=str(result.mesh_npz),
        glb=str(result.glb),
        elapsed_s=round(time.perf_counter() - started, 2),
        steps=trainer.step,
        vertices=result.vertices,
        faces=result.faces,
        threshold=result.threshold,
        phase_s=trainer.phase_seconds(),
        peak_memory=asdict(trainer.memory.sample()),
    )
    return 0
