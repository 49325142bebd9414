"""The interface every diffusion prior implements, so SDS never knows which model it is using."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import torch

from ..config import GuidanceConfig, RunConfig
from ..prompts import ViewContext
from ..registry import PRIORS, PriorEntry
from ..stage_progress import Progress, no_progress


class DiffusionPrior(ABC):
    """A frozen text-to-image diffusion model used as a loss.

    Works in the model's own space (pixels for IF and the procedural prior, VAE latents
    for Stable Diffusion): ``encode`` maps a render in [0, 1] there, differentiably.
    A run builds one with ``from_run_config(run, device, cache_dir, progress)`` and then calls ``set_prompt``
    with the same ``progress``: whichever of the two does the long work (loading weights, rendering or baking
    the prompt's data) reports its fraction to it between units of work, and ``progress`` raises
    ``engine.stage_progress.Stopped`` there when the run is stopped.
    """

    name: str  # its name in engine/registry.py PRIORS, whose entry holds its label and default guidance scale
    default_t_range: tuple[float, float] = (0.02, 0.98)  # fractions of the schedule (paper, threestudio)
    num_train_timesteps: int
    renders_any_background = False  # True: its data can be composited over the render's own background
    has_low_memory_mode = False  # True: guidance.low_memory makes it fit in less device memory

    @classmethod
    @abstractmethod
    def from_run_config(
        cls, run: RunConfig, device: torch.device, cache_dir: Path, progress: Progress = no_progress
    ) -> DiffusionPrior:
        """The prior a run uses, built from its settings on ``device``; long work (loading weights) reports to
        ``progress``. ``cache_dir`` is where a prior may keep data between runs."""

    @classmethod  # noqa: B027 - an optional hook
    def check_run_config(cls, run: RunConfig) -> None:
        """Refuse what this prior cannot use (words it does not know, a model that is not there) quickly,
        before a run writes anything: no weights are loaded and nothing is rendered."""

    @property
    @abstractmethod
    def alphas_cumprod(self) -> torch.Tensor:
        """alphabar_t for t = 0 .. num_train_timesteps - 1 (float32, on the prior's device)."""

    @property
    def input_resolution(self) -> int | None:
        """The render size, in pixels, its data is made at; None: renders of any size (mesh refinement renders at
        its own size for such a prior)."""
        return None

    @classmethod
    def registered(cls) -> PriorEntry:
        """This prior's registry entry: its default guidance scale, whether it is learned, what the add-on shows."""
        return PRIORS[cls.name]

    @classmethod
    def guidance_scale_of(cls, guidance: GuidanceConfig) -> float:
        """The classifier-free guidance scale a run uses: its own, else this prior's default."""
        return (
            guidance.guidance_scale if guidance.guidance_scale is not None else cls.registered().default_guidance_scale
        )

    @classmethod
    def t_range_of(cls, guidance: GuidanceConfig) -> tuple[float, float]:
        """The range of noise levels (fractions of the schedule) a run draws t from: its own, else this prior's."""
        return guidance.t_range if guidance.t_range is not None else cls.default_t_range

    @abstractmethod
    def set_prompt(
        self, prompt: str, negative_prompt: str, suffixes: tuple[str, ...], progress: Progress = no_progress
    ) -> None:
        """Prepare conditioning for the prompt with each view suffix (computed once, then reused)."""

    @abstractmethod
    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) render in [0, 1] -> the model's input space, keeping the autograd graph."""

    @abstractmethod
    def predict_noise(
        self,
        noisy: torch.Tensor,
        t: torch.Tensor,
        views: list[ViewContext],
        guidance_scale: float,
    ) -> torch.Tensor:
        """eps_hat with classifier-free guidance: uncond + s * (cond - uncond). Called under no_grad."""

    def release_text_encoder(self) -> None:  # noqa: B027 - optional hook
        """Free the text encoder once all prompts are encoded (real models)."""
