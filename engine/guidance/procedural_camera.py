"""The default offline prior ("procedural"): a camera-conditioned Bayes-optimal denoiser.

Its data for a query are renders of the prompt's scene at the query's own camera (position, rotation, field of
view, as Zero-1-to-3 and MVDream condition a diffusion model on the camera), in the render's shading mode,
under ``guidance.procedural.lights`` lights drawn around that camera as the trainer draws its lights and, with
``guidance.procedural.render_light`` (the default), the render's own light too, composited over the render's own
background. The denoiser is the Bayes-optimal one for those images, and classifier-free guidance
is against an unconditional set seen from the same camera: random vocabulary scenes (or the negative prompt's),
under the first ``UNCONDITIONAL_LIGHTS`` of those lights.

Why: a text-only set (procedural_text.py) holds renders at other cameras, so its denoiser pulls each render
toward a blend of misaligned images at high noise and snaps to whichever is nearest at low noise; successive
steps pull the field toward inconsistent targets and small features never win. Told the camera, the target is
consistent from step to step. The render's own light: the trainer's lights are a continuous distribution, and
a finite draw of them leaves the nearest data image at low noise lit from elsewhere, so its shading pulls the
surface askew (more lights help, slowly: a mug's IoU 0.380 with 4, 0.410 with 16, 0.427 with 64). One more
image, at the render's light, is what a dense draw would hold nearest to it. It does tell the prior the light,
which a learned model is not told; at high noise the blend of all the lights still dominates. bench/REPORT.md
measures both ("no-render-light"). Renders come from the scene baked into grids (procedural/baked_scene.py), a few
tens of milliseconds per query on one CPU thread.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..config import CameraConfig, RunConfig, ShadingConfig
from ..errors import PriorError
from ..procedural.baked_scene import BakedScene
from ..procedural.denoiser import ClosedFormDenoiser, linear_schedule_alphas_cumprod
from ..procedural.image_set import unconditional_scenes
from ..procedural.prompt import check_prompts, parse_prompt
from ..procedural.scene import Scene
from ..prompts import ViewContext
from ..stage_progress import Progress, no_progress, span
from .vocabulary_prior import VocabularyPrior

UNCONDITIONAL_SCENES = 8  # random vocabulary scenes (half of them pairs) behind classifier-free guidance
UNCONDITIONAL_LIGHTS = 4  # lights per unconditional scene (of the query's)
LIGHT_SEED = 0  # the lights' offsets from the camera are drawn once, from this seed
# One trace per pixel centre, as the field's render samples it. Measured (fast preset, seed 0): IoU 0.929 for "a
# yellow duck" and 0.913 for "a red cube" against 0.903 and 0.905 with 2x2 supersampling, and a quarter of the rays.
PIXEL_SAMPLES = 1


class CameraProceduralPrior(VocabularyPrior):
    name = "procedural"
    # Measured ("a pink mug", balanced preset, seed 0): IoU 0.454 with t_max 0.98, 0.466 with 0.6, 0.474 with 0.4.
    # Every data image is the true scene at the render's camera, so high noise adds no shape the low noise lacks,
    # only the blend of the lights, which softens the shading that carves a hollow (bench/REPORT.md has the suite).
    default_t_range = (0.02, 0.4)
    num_train_timesteps = 1000
    renders_any_background = True

    def __init__(
        self,
        resolution: int,
        lights: int,
        camera: CameraConfig,
        shading: ShadingConfig,
        device: torch.device,
        unconditional_now: bool = False,
        render_light: bool = True,
    ) -> None:
        self.resolution = resolution
        self.render_light = render_light  # the render's own light among the data's
        self.unconditional_now = (
            unconditional_now  # bake the unconditional scenes with the prompt's (a run that guides)
        )
        self.shading = shading
        self.device = device
        self._alphas_cumprod = linear_schedule_alphas_cumprod(self.num_train_timesteps, device)
        generator = torch.Generator().manual_seed(LIGHT_SEED)
        self._light_offsets = torch.randn(lights, 3, generator=generator) * camera.light_position_std
        low, high = camera.light_distance_range
        self._light_distances = low + (high - low) * torch.rand(lights, generator=generator)
        self._scene: BakedScene | None = None
        self._negative = ""
        self._unconditional: list[BakedScene] | None = None

    @classmethod
    def from_run_config(
        cls, run: RunConfig, device: torch.device, cache_dir: Path, progress: Progress = no_progress
    ) -> CameraProceduralPrior:
        """``cache_dir`` is unused: scenes are baked by ``set_prompt``, in seconds (reported to its progress)."""
        guidance = run.guidance
        unconditional_now = cls.guidance_scale_of(guidance) != 1.0
        return cls(
            run.render.resolution,
            guidance.procedural.lights,
            run.camera,
            run.shading,
            device,
            unconditional_now,
            guidance.procedural.render_light,
        )

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self._alphas_cumprod

    @property
    def input_resolution(self) -> int:
        return self.resolution

    def set_prompt(
        self, prompt: str, negative_prompt: str, suffixes: tuple[str, ...], progress: Progress = no_progress
    ) -> None:
        """Bake the prompt's scene; both prompts are checked now. The unconditional scenes are baked now too when
        ``unconditional_now``, else when first needed (guidance at scale 1 never needs them). View suffixes are
        not needed: the camera says more."""
        check_prompts(prompt, negative_prompt)
        self._negative = negative_prompt.strip()
        self._unconditional = None
        scenes = [Scene(parse_prompt(prompt)), *(self._unconditional_scenes() if self.unconditional_now else [])]
        baked = [
            BakedScene.bake(scene, progress=span(progress, index / len(scenes), (index + 1) / len(scenes)))
            for index, scene in enumerate(scenes)
        ]
        self._scene = baked[0].to(self.device)
        if self.unconditional_now:
            self._unconditional = [scene.to(self.device) for scene in baked[1:]]

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        return 2.0 * rgb - 1.0

    def lights(self, position: torch.Tensor) -> torch.Tensor:
        """(L, 3) lights for a camera at ``position`` (3,): the trainer's distribution, from fixed draws."""
        offsets, distances = self._light_offsets.to(position), self._light_distances.to(position)
        direction = position + offsets
        return direction / direction.norm(dim=-1, keepdim=True) * distances.unsqueeze(-1)

    def images(self, scene: BakedScene, view: ViewContext, lights: torch.Tensor) -> torch.Tensor:
        """(L, D) renders of ``scene`` as ``view`` saw it, in the model's space."""
        assert view.camera is not None and view.background is not None
        rendered = scene.render(
            view.camera, self.resolution, view.mode, lights, self.shading, view.background, PIXEL_SAMPLES
        )
        return 2.0 * rendered.flatten(1) - 1.0

    def _unconditional_scenes(self) -> list[Scene]:
        """The negative prompt's scene, else random vocabulary scenes."""
        if self._negative:
            return [Scene(parse_prompt(self._negative))]
        return unconditional_scenes(UNCONDITIONAL_SCENES, seed=1)

    def unconditional(self) -> list[BakedScene]:
        """The unconditional scenes, baked (on first use, unless ``set_prompt`` baked them)."""
        if self._unconditional is None:
            self._unconditional = [BakedScene.bake(scene).to(self.device) for scene in self._unconditional_scenes()]
        return self._unconditional

    def check_views(self, noisy: torch.Tensor, views: list[ViewContext]) -> BakedScene:
        """The prompt's baked scene, once the batch's views are known to carry their cameras and background."""
        if self._scene is None:
            raise RuntimeError("set_prompt must be called first")
        if len(views) != noisy.shape[0]:
            raise ValueError(f"{len(views)} view contexts for a batch of {noisy.shape[0]}")
        if any(view.camera is None or view.background is None for view in views):
            raise PriorError("the procedural prior must be told each render's camera and background", "input")
        return self._scene

    @torch.no_grad()
    def predict_noise(
        self, noisy: torch.Tensor, t: torch.Tensor, views: list[ViewContext], guidance_scale: float
    ) -> torch.Tensor:
        """Each render's noise prediction from its own camera (``view_eps``)."""
        scene = self.check_views(noisy, views)
        out = torch.empty_like(noisy)
        alphabars = self._alphas_cumprod[t.to(self.device)].double().cpu().tolist()
        for index, view in enumerate(views):
            alpha, sigma = math.sqrt(alphabars[index]), math.sqrt(1.0 - alphabars[index])
            eps = self.view_eps(noisy[index].flatten().float(), alpha, sigma, scene, view, guidance_scale)
            out[index] = eps.view(noisy.shape[1:]).to(noisy.dtype)
        return out

    def view_eps(
        self, z: torch.Tensor, alpha: float, sigma: float, scene: BakedScene, view: ViewContext, guidance_scale: float
    ) -> torch.Tensor:
        """eps_uncond + s * (eps_cond - eps_uncond) for one noisy render (D,), both sets seen from its camera."""
        assert view.camera is not None
        lights = self.lights(view.camera.position[0])
        if self.render_light:
            lights = torch.cat([view.camera.light.to(lights), lights])
        eps = _denoiser(self.images(scene, view, lights)).eps(z, alpha, sigma)
        if guidance_scale != 1.0:
            others = [self.images(other, view, lights[:UNCONDITIONAL_LIGHTS]) for other in self.unconditional()]
            uncond = _denoiser(torch.cat(others)).eps(z, alpha, sigma)
            eps = uncond + guidance_scale * (eps - uncond)
        return eps


def _denoiser(images: torch.Tensor) -> ClosedFormDenoiser:
    """The Bayes-optimal denoiser of equally likely ``images`` (N, D)."""
    return ClosedFormDenoiser(images, images.square().sum(dim=-1), images.new_zeros(images.shape[0]))
