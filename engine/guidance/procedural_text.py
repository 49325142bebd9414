"""The text-only procedural prior ("procedural-text"): the paper's setting, told only the view suffix.

The Bayes-optimal denoiser of a fixed set of renders of the prompt's scene from random cameras (other
fields of view, distances and look-at jitter than the render's), windowed by the render's view suffix
(", front view" -> |azimuth| <= 45 deg) and compared like with like in its shading mode. It knows what the
paper's text prompt knows, so it is the prior for the paper's ablations and the Janus study; the default
prior is the camera-conditioned one (procedural_camera.py), which scores far better (bench/REPORT.md).
Works in pixel space: x = 2 * rgb - 1, with DDPM's linear beta schedule.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import RunConfig
from ..errors import PriorError
from ..procedural.denoiser import ClosedFormDenoiser, ViewSelection, ViewWeighting, linear_schedule_alphas_cumprod
from ..procedural.image_set import MODES, ImageSet, ImageSetSettings, load_or_build, unconditional_scenes
from ..procedural.prompt import SceneSpec, parse_prompt
from ..procedural.scene import Scene
from ..prompts import ViewContext
from ..stage_progress import Progress, no_progress, span
from .vocabulary_prior import VocabularyPrior

_UNCONDITIONAL_SCENES = 16  # random vocabulary scenes behind the unconditional set (half of them pairs)


class _DeviceSet:
    """An image set on the prior's device in the model's space, (modes, V, D), with its view weights.

    float32 is enough: measured against float64, eps_hat differs by under 1e-5 at every t.
    """

    def __init__(self, image_set: ImageSet, weighting: ViewWeighting, device: torch.device) -> None:
        self.image_set = image_set
        self.images = (2.0 * image_set.images - 1.0).flatten(2).to(device=device, dtype=torch.float32)
        self.squared_norms = self.images.square().sum(dim=-1)
        self.weighting = weighting

    def eps(self, noisy: torch.Tensor, view: ViewContext, alpha: float, sigma: float, narrow: bool) -> torch.Tensor:
        mode = MODES.index(view.mode)
        images, norms = self.images[mode], self.squared_norms[mode]
        log_weights = self.weighting.log_weights(view) if narrow else torch.zeros(images.shape[0])
        return ClosedFormDenoiser(images, norms, log_weights.to(images)).eps(noisy, alpha, sigma)


class TextProceduralPrior(VocabularyPrior):
    name = "procedural-text"
    num_train_timesteps = 1000

    def __init__(
        self,
        settings: ImageSetSettings,
        selection: ViewSelection,
        view_width_deg: float,
        device: torch.device,
        cache_dir: Path,
        unconditional_now: bool = False,
    ) -> None:
        self.settings = settings
        self.unconditional_now = unconditional_now  # build the unconditional set with the prompt's (a run that guides)
        self.selection = selection
        self.view_width_deg = view_width_deg
        self.device = device
        self.cache_dir = Path(cache_dir) / "procedural"
        self._alphas_cumprod = linear_schedule_alphas_cumprod(self.num_train_timesteps, device)
        self._conditional: _DeviceSet | None = None
        self._unconditional: _DeviceSet | None = None
        self._negative: SceneSpec | None = None

    @classmethod
    def from_run_config(
        cls, run: RunConfig, device: torch.device, cache_dir: Path, progress: Progress = no_progress
    ) -> TextProceduralPrior:
        """The prior for a checked run config (``engine/config.py`` has refused views and selections it cannot use).
        Nothing is rendered yet (``set_prompt`` renders); a run that guides builds both sets there."""
        guidance = run.guidance
        settings = ImageSetSettings(
            resolution=run.render.resolution,
            views=guidance.procedural_text.views,
            camera=run.camera,
            shading=run.shading,
        )
        selection = ViewSelection(guidance.procedural_text.view_selection)
        unconditional_now = cls.guidance_scale_of(guidance) != 1.0
        return cls(settings, selection, guidance.procedural_text.view_width_deg, device, cache_dir, unconditional_now)

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self._alphas_cumprod

    @property
    def input_resolution(self) -> int:
        return self.settings.resolution

    @property
    def conditional_set(self) -> ImageSet:
        """The prompt's renders (after ``set_prompt``)."""
        return self._conditional_device_set().image_set

    @property
    def unconditional_set(self) -> ImageSet:
        """Renders of random vocabulary scenes, or of the negative prompt (built on first use)."""
        return self._unconditional_device_set().image_set

    def set_prompt(
        self, prompt: str, negative_prompt: str, suffixes: tuple[str, ...], progress: Progress = no_progress
    ) -> None:
        """Build (or load) the prompt's image set; both prompts are checked now.

        The unconditional set (the negative prompt's, else random vocabulary scenes) is built now too when
        ``unconditional_now`` (as many views as the prompt's: half of the work), else when first needed:
        guidance at scale 1 never needs it. ``suffixes`` are not needed: each render's view arrives with its
        ViewContext.
        """
        spec = parse_prompt(prompt)
        self._negative = parse_prompt(negative_prompt) if negative_prompt.strip() else None
        share = 0.5 if self.unconditional_now else 1.0
        self._conditional = self._load(spec.text, [Scene(spec)], span(progress, 0.0, share))
        self._unconditional = None
        if self.unconditional_now:
            self._unconditional_device_set(span(progress, share, 1.0))

    def _conditional_device_set(self) -> _DeviceSet:
        if self._conditional is None:
            raise RuntimeError("set_prompt must be called first")
        return self._conditional

    def _unconditional_device_set(self, progress: Progress = no_progress) -> _DeviceSet:
        self._conditional_device_set()
        if self._unconditional is None:
            if self._negative is not None:
                self._unconditional = self._load(self._negative.text, [Scene(self._negative)], progress)
            else:
                name = f"unconditional-{_UNCONDITIONAL_SCENES}"
                scenes = unconditional_scenes(_UNCONDITIONAL_SCENES, seed=1)
                self._unconditional = self._load(name, scenes, progress)
        return self._unconditional

    def _load(self, name: str, scenes: list[Scene], progress: Progress) -> _DeviceSet:
        image_set = load_or_build(name, scenes, self.settings, self.cache_dir, progress)
        weighting = ViewWeighting(
            self.selection, image_set.azimuth, image_set.elevation, self.settings.camera, self.view_width_deg
        )
        return _DeviceSet(image_set, weighting, self.device)

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        return 2.0 * rgb - 1.0

    @torch.no_grad()
    def predict_noise(
        self, noisy: torch.Tensor, t: torch.Tensor, views: list[ViewContext], guidance_scale: float
    ) -> torch.Tensor:
        """eps_uncond + s * (eps_cond - eps_uncond); the conditional set is narrowed to the render's view."""
        conditional = self._conditional_device_set()
        size = self.settings.resolution
        if tuple(noisy.shape[1:]) != (3, size, size):
            raise PriorError(
                f"the procedural prior was built for {size}x{size} renders but got {tuple(noisy.shape[2:])}; "
                "keep render.resolution the same for the whole run",
                kind="input",
            )
        batch = noisy.shape[0]
        if len(views) != batch:
            raise ValueError(f"{len(views)} view contexts for a batch of {batch}")
        alphabar = self._alphas_cumprod[torch.as_tensor(t, device=self.device).expand(batch)].double().cpu()
        out = torch.empty_like(noisy)
        for index, view in enumerate(views):
            z = noisy[index].flatten().float()
            alpha, sigma = float(alphabar[index].sqrt()), float((1.0 - alphabar[index]).sqrt())
            eps = conditional.eps(z, view, alpha, sigma, narrow=True)
            if guidance_scale != 1.0:
                uncond = self._unconditional_device_set().eps(z, view, alpha, sigma, narrow=False)
                eps = uncond + guidance_scale * (eps - uncond)
            out[index] = eps.view(noisy.shape[1:]).to(noisy.dtype)
        return out
