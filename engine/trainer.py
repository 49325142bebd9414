"""The optimization loop: render a random view under a random light, score it, take the loss, step.

Each stage is its own module: cameras (``cameras.py``), view-dependent prompts (``prompts.py``), volume
rendering (``renderer.py``), the objective (``loss.py``, with SDS from ``guidance/sds.py``) and the
optimizer with its schedule (``optimizer.py``). The trainer runs them in order and does the rest of a
run's bookkeeping: progress events, previews, checkpoints, stopping and the turntable.

Every random draw comes from one ``torch.Generator`` whose state is checkpointed, and previews
use fixed cameras without drawing from it, so a resumed CPU run ends identical to an
uninterrupted one. The last step is checkpointed too, so the trained field is on disk before the
turntable and the export begin: a run stopped (or killed) after optimization can still be exported.

A learned prior on a CPU takes minutes a step: after the first step the run says what the rest will cost
(a ``warning`` of kind "cpu_cost"), timed here, on this machine, model and settings, which a benchmark measured
elsewhere cannot be; the first step is one of thousands, and includes its warm-up (the estimate errs high).

A step whose loss or gradient is not finite is skipped (``optimizer.descend``): the step is spent, nothing
changes, and ``progress`` events count such steps (``skipped_steps``). ``optim.max_skipped_in_a_row`` of them
in a row stop the run with an error; the checkpoint on disk, written before them, is kept as it is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import checkpoint, protocol
from .atomic_write import replacing
from .background import TrainingBackground
from .cameras import orbit_cameras, sample_cameras
from .config import RunConfig
from .errors import EngineError
from .field.base import Field
from .guidance.base import DiffusionPrior
from .guidance.sds import ScoreDistillation
from .loss import LossBreakdown, LossInputs, step_loss
from .optimizer import SkippedSteps, build_optimizer, descend, set_learning_rate
from .peak_memory import PeakMemoryMeter
from .prompts import view_contexts
from .registry import FIELDS, resolve
from .renderer import render, render_image
from .shading import ShadingMode, sample_mode
from .step_timer import PRIOR, RENDER, UPDATE, StepTimer
from .stop_signal import StopSignal

PREVIEW_RESOLUTION = 128
PREVIEW_AZIMUTH_DEG = -35.0  # a three-quarter view of the front
PROGRESS_INTERVAL_S = 0.25
LOSS_DIGITS = 6  # rounding of the losses in progress events
CPU_COST = "cpu_cost"  # the warning's kind: what a learned prior's run will take on a CPU


def save_png(image: torch.Tensor, path: Path) -> Path:
    """(3, H, W) in [0, 1] -> PNG, written atomically."""
    array = (image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    with replacing(path) as partial:
        Image.fromarray(array).save(partial, format="PNG")
    return path


def finite_or_none(value: float) -> float | None:
    """A loss for a progress event: rounded, or None (JSON null) where it is not finite."""
    return round(value, LOSS_DIGITS) if math.isfinite(value) else None


def duration_text(hours: float) -> str:
    """``412.3`` -> "412 hours", ``0.04`` -> "2 minutes": a run's cost as a person reads it."""
    if hours >= 10:
        return f"{hours:.0f} hours"
    if hours >= 1:
        return f"{hours:.1f} hours"
    minutes = max(round(hours * 60), 1)
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


@dataclass
class StepResult:
    losses: LossBreakdown
    mode: ShadingMode
    skipped: torch.Tensor  # 1 (on the device): the loss or a gradient was not finite, and nothing changed


class Trainer:
    """Owns the field, its optimizer and the run's RNG; reports through ``emit``. The prior arrives with its
    prompts set (``engine/generation.py`` prepares it, reporting progress and honoring a stop)."""

    def __init__(
        self,
        config: RunConfig,
        prior: DiffusionPrior,
        run_dir: Path,
        emit: Callable[..., None],
        device: torch.device,
        stop: StopSignal | None = None,
    ) -> None:
        self.config = config
        self.run_dir = run_dir
        self.emit = emit
        self.device = device
        self.stop = stop or StopSignal()
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.field: Field = resolve(FIELDS, config.field.name, "field").from_config(config.field).to(device)
        self.prior = prior
        self.sds = ScoreDistillation(prior, config.guidance)
        self.optimizer = build_optimizer(self.field, config.optim)
        self.background = TrainingBackground.for_prior(config.shading, prior)
        self.step = 0
        self.saved_step: int | None = None  # the step of the checkpoint on disk
        self.cost_reported = False  # the cpu_cost warning, once per process
        self.skips = SkippedSteps(device)  # steps this process skipped for a loss or gradient that was not finite
        self.preview_cameras = orbit_cameras(config.camera, [PREVIEW_AZIMUTH_DEG]).to(device)
        self.timer = StepTimer(device)  # render / prior / update seconds, in progress and done events
        self.memory = PeakMemoryMeter(device)

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoint"

    def resume(self) -> int:
        total = self.config.optim.steps
        self.step = checkpoint.load(self.checkpoint_dir, self.field, self.optimizer, self.generator, total)
        self.saved_step = self.step
        return self.step

    def save_checkpoint(self) -> Path:
        path = checkpoint.save(self.checkpoint_dir, self.step, self.field, self.optimizer, self.generator)
        self.saved_step = self.step
        self.emit(protocol.CHECKPOINT, step=self.step, path=str(path))
        return path

    def train_step(self) -> StepResult:
        """Render a random batch, score it, take the loss and step; the schedules follow the run's progress."""
        config, total = self.config, self.config.optim.steps
        fraction = self.step / total
        self.field.set_progress(fraction)
        set_learning_rate(self.optimizer, fraction, config.optim)
        mode = sample_mode(self.step, total, config.shading, self.generator)
        # Drawn on the CPU from the run's generator (a CPU run stays repeatable bit for bit), used on the device.
        cameras = sample_cameras(config.camera, config.optim.batch_size, self.generator).to(self.device)
        background = self.background.draw(self.generator).to(self.device)
        self.timer.start()
        with self.field.one_step():
            rendering = render(
                self.field,
                cameras,
                mode,
                config.render,
                config.shading,
                generator=self.generator,
                background=background,
            )
            self.timer.lap(RENDER)
            views = view_contexts(cameras, mode, config.camera, config.guidance, background)
            score = self.sds(rendering.rgb, views, fraction, self.generator)
            self.timer.lap(PRIOR)
            losses = step_loss(LossInputs(rendering, score, self.field), fraction, config.regularizers)
            skipped = descend(self.optimizer, losses.total, config.optim.grad_clip)
            self.timer.lap(UPDATE)
        self.step += 1
        self.skips.add(skipped)
        if self.device.type == "cpu":
            self.check_skips()
        return StepResult(losses=losses, mode=mode, skipped=skipped)

    def check_skips(self) -> tuple[int, int]:
        """The steps skipped in all and in a row; too many in a row end the run (EngineError, kind "diverged"),
        keeping the checkpoint on disk."""
        total, in_a_row = self.skips.counts()
        if in_a_row < self.config.optim.max_skipped_in_a_row:
            return total, in_a_row
        kept = (
            f"its checkpoint at step {self.saved_step} is kept ({self.checkpoint_dir})"
            if self.saved_step is not None
            else "no checkpoint had been written yet"
        )
        raise EngineError(
            f"the run stopped at step {self.step}: the loss or its gradient was not finite for {in_a_row} steps in a "
            f"row ({total} in all), so the field had stopped changing; {kept}. Lower the guidance "
            "scale or the learning rate, or set optim.grad_clip, and start again",
            "diverged",
        )

    def write_preview(self) -> Path:
        image = render_image(
            self.field,
            self.preview_cameras,
            ShadingMode.COLORED,
            self.config.render,
            self.config.shading,
            PREVIEW_RESOLUTION,
        )[0]
        path = save_png(image, self.run_dir / "previews" / f"step_{self.step:06d}.png")
        self.emit(protocol.PREVIEW, step=self.step, path=str(path))
        return path

    def write_turntable(self) -> bool:
        """Frames around the object, colored and textureless, for the user and the quality report.

        A stop is honoured between frames; False when stopped before the last one.
        """
        count = self.config.turntable_frames
        (self.run_dir / "turntable").mkdir(parents=True, exist_ok=True)
        cameras = orbit_cameras(self.config.camera, [i * 360.0 / count for i in range(count)]).to(self.device)
        for done, (mode, index) in enumerate(product((ShadingMode.COLORED, ShadingMode.TEXTURELESS), range(count))):
            if self.stop.requested:
                return False
            fraction = round(done / (2 * count), 3)
            self.emit(protocol.STAGE, name="turntable", message=f"turntable {fraction:.0%}", fraction=fraction)
            frame = render_image(
                self.field, cameras[index], mode, self.config.render, self.config.shading, PREVIEW_RESOLUTION
            )[0]
            save_png(frame, self.run_dir / "turntable" / f"{mode.value}_{index:02d}.png")
        return True

    def optimize(self) -> bool:
        """Run to the configured step count and checkpoint the last step; False when stopped early (a
        checkpoint is saved then too). A run resumed at its last step only checkpoints, if it must."""
        config, total = self.config, self.config.optim.steps
        (self.run_dir / "previews").mkdir(parents=True, exist_ok=True)
        steps_at_start = self.step
        if steps_at_start < total:
            self.emit(protocol.STAGE, name="optimize", message=f"optimizing {total} steps")
        started, last_report, rate = time.perf_counter(), 0.0, 0.0
        while self.step < total:
            if self.stop.requested:
                if self.saved_step != self.step:
                    self.save_checkpoint()
                return False
            step_started = time.perf_counter()
            result = self.train_step()
            now = time.perf_counter()
            if not self.cost_reported:
                self.report_cpu_cost(now - step_started)
            done_here = self.step - steps_at_start
            rate = done_here / max(now - started, 1e-9)
            if now - last_report >= PROGRESS_INTERVAL_S or self.step == total:
                last_report = now
                skipped_steps, _ = self.check_skips()
                self.emit(
                    protocol.PROGRESS,
                    step=self.step,
                    total=total,
                    loss=finite_or_none(float(result.losses.total.detach())),
                    losses={name: finite_or_none(value) for name, value in result.losses.as_floats().items()},
                    skipped_steps=skipped_steps,
                    it_per_s=round(rate, 3),
                    eta_s=round((total - self.step) / max(rate, 1e-9), 1),
                    mode=result.mode.value,
                    phase_s=self.phase_seconds(),
                    peak_memory_bytes=self.memory.sample().headline_bytes,
                )
            if config.preview_every and self.step % config.preview_every == 0:
                self.write_preview()
            due = config.checkpoint_every and self.step % config.checkpoint_every == 0 and self.step < total
            if due and not self.check_skips()[1]:  # a checkpoint holds a step that changed the field
                self.save_checkpoint()
        if self.step > steps_at_start and not (config.preview_every and self.step % config.preview_every == 0):
            self.write_preview()
        if self.saved_step != self.step:
            self.save_checkpoint()  # the trained field is on disk before the export begins
        self.field.set_progress(self.step / total)  # the schedules' end (all levels, the last beta) for the export
        return True

    def report_cpu_cost(self, seconds_per_step: float) -> None:
        """Warn, once, what the steps left will take when a learned prior runs on the CPU."""
        self.cost_reported = True
        if self.device.type != "cpu" or not self.prior.registered().learned:
            return
        left = self.config.optim.steps - self.step
        hours = seconds_per_step * left / 3600.0
        self.emit(
            protocol.WARNING,
            kind=CPU_COST,
            message=(
                f"{self.prior.name} on the CPU: the first step took {seconds_per_step:.0f} s, so the {left} steps "
                f"left take about {duration_text(hours)}; stop now and run it on a GPU, or give fewer steps"
            ),
            seconds_per_step=float(f"{seconds_per_step:.3g}"),  # three digits: a tiny step is not 0
            steps=left,
            hours=round(hours, 2),
        )

    def phase_seconds(self) -> dict[str, float]:
        """Seconds spent rendering, in the prior and in the update, over this process's steps."""
        return {phase: round(seconds, 3) for phase, seconds in self.timer.totals().items()}

    def field_callables(self) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
        """numpy density and albedo functions of the trained field, for mesh export."""

        def query(points: np.ndarray, index: int) -> np.ndarray:
            tensor = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32)).to(self.device)
            values = self.field.density_and_albedo(tensor)[index]
            return values.float().cpu().numpy()

        return (lambda p: query(p, 0)), (lambda p: query(p, 1))
