"""What the diffusers priors (Stable Diffusion, DeepFloyd IF) share behind ``DiffusionPrior``.

Prompt embeddings are computed once per view suffix, then the text encoder can be freed; each
guidance call runs the UNet once on the batch [conditional; unconditional] and applies
classifier-free guidance. Subclasses say how text is embedded, how a render enters the model's
space and which checkpoint parts they load.

The low-memory mode (``guidance.low_memory``) gives the same guidance in less device memory: the networks
used every step wait on the CPU until the text encoder has embedded the prompts and been freed, so the two
never sit on the device together (IF's T5 alone is 9.5 GB in float16); attention is memory-efficient
(``low_memory_attention``); Stable Diffusion's VAE encodes one image at a time and recomputes its activations
in the backward pass instead of keeping them while the UNet runs.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..config import PerpNegConfig, RunConfig
from ..device import denoiser_dtype
from ..errors import PriorError
from ..model_discovery import hub_cache_dir
from ..prompts import ViewContext, view_prompt
from ..stage_progress import Progress, no_progress
from .base import DiffusionPrior
from .model_loading import ModelSource, PartLoader, resolve_model
from .perp_neg import perp_neg_guided, perp_neg_view

RENDER_RESOLUTION = 64  # both priors are guided at the paper's 64x64 renders
_PREDICTION_TYPES = ("epsilon", "v_prediction")


def parked_device(device: torch.device, low_memory: bool) -> torch.device:
    """Where the networks used every step are loaded: the CPU until the text encoder is freed (low-memory), else
    ``device`` at once."""
    return torch.device("cpu") if low_memory else device


def low_memory_attention(unet: Any, device: torch.device) -> None:
    """Attention that needs little memory on ``device``. On CUDA diffusers already runs torch's scaled dot-product
    attention, whose memory-efficient and flash kernels never hold the (tokens x tokens) matrix, so it stays;
    elsewhere (MPS, CPU: the math kernel) the heads are computed a slice at a time."""
    if device.type != "cuda":
        unet.set_attention_slice("auto")


def free_device_cache(device: torch.device) -> None:
    """Give the memory of freed tensors back to the device, so a network moved there next can use it."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


class LearnedPrior(DiffusionPrior):
    """A frozen diffusers UNet conditioned on text, used through classifier-free guidance.

    Tensors cross this interface in float32; the models themselves may run in float16.
    """

    has_low_memory_mode = True

    default_model: ClassVar[str]  # hub id used when the run names no model
    parts: ClassVar[tuple[str, ...]]  # checkpoint subfolders the prior loads

    def __init__(
        self,
        unet: Any,
        scheduler: Any,
        tokenizer: Any,
        text_encoder: Any,
        device: torch.device,
        *,
        low_memory: bool = False,
    ) -> None:
        prediction_type = scheduler.config.get("prediction_type", "epsilon")
        if prediction_type not in _PREDICTION_TYPES:
            raise PriorError(
                f"the {self.name} model predicts {prediction_type!r}, which the engine does not support; "
                "use a model that predicts noise (epsilon) or velocity (v_prediction)"
            )
        self.unet = unet
        self.device = device
        self.low_memory = low_memory
        if low_memory:
            low_memory_attention(unet, device)
        self.dtype: torch.dtype = unet.dtype
        self.prediction_type: str = prediction_type
        self.num_train_timesteps = int(scheduler.config.num_train_timesteps)
        self._alphas_cumprod = scheduler.alphas_cumprod.to(device=device, dtype=torch.float32)
        self._tokenizer = tokenizer
        self._text_encoder = text_encoder
        self._conditional: dict[str, torch.Tensor] = {}
        self._unconditional: torch.Tensor | None = None
        self.perp_neg: PerpNegConfig | None = None  # Perp-Neg's settings when it is on (from_run_config)

    @classmethod
    def model_source(cls, run: RunConfig) -> ModelSource:
        """The checked checkpoint named by ``run.guidance`` (or the default), without loading any weights.

        Hub ids are looked up in the Hugging Face hub cache (HF_HUB_CACHE / HF_HOME), where the
        add-on's model manager downloads them, not in the engine's ``cache_dir``.
        """
        guidance = run.guidance
        return resolve_model(
            guidance.model or cls.default_model,
            cls.parts,
            offline=guidance.offline,
            cache_dir=hub_cache_dir(),
            prior=cls.name,
        )

    @classmethod
    def check_run_config(cls, run: RunConfig) -> None:
        """The model must be there, complete (PriorError saying what is missing and how to get it), and
        Perp-Neg needs the view prompts it mixes."""
        if run.guidance.perp_neg.enabled and not run.guidance.view_dependent_prompts:
            raise PriorError(
                "guidance.perp_neg mixes the front, side and back view prompts; set "
                "guidance.view_dependent_prompts=true or guidance.perp_neg.enabled=false",
                kind="input",
            )
        cls.model_source(run)

    @classmethod
    def from_run_config(
        cls, run: RunConfig, device: torch.device, cache_dir: Path | None, progress: Progress = no_progress
    ) -> LearnedPrior:
        """Load the model named by ``run.guidance`` onto ``device``, part by part (reported to ``progress``).
        The guidance scale and negative prompt are per call (``predict_noise``, ``set_prompt``)."""
        load = PartLoader(cls.model_source(run), cls.parts, progress)
        dtype = denoiser_dtype(device, run.guidance.half_precision)
        prior = cls.load(load, device, dtype, low_memory=run.guidance.low_memory)
        prior.perp_neg = run.guidance.perp_neg if run.guidance.perp_neg.enabled else None
        return prior

    @classmethod
    @abstractmethod
    def load(cls, load: PartLoader, device: torch.device, dtype: torch.dtype, *, low_memory: bool) -> LearnedPrior:
        """Build the prior from the parts of a checked checkpoint (each of ``parts`` once); models run in
        ``dtype``. The text encoder goes to ``device``, the step networks to ``parked_device(device, low_memory)``."""

    def step_networks(self) -> tuple[torch.nn.Module, ...]:
        """The networks every guidance call uses (the UNet, and the VAE of latent models)."""
        return (self.unet,)

    @abstractmethod
    def _embed_texts(self, texts: list[str]) -> torch.Tensor:
        """(N, tokens, width) text embeddings for the UNet's cross-attention, in the UNet's dtype."""

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self._alphas_cumprod

    @property
    def input_resolution(self) -> int:
        return RENDER_RESOLUTION

    def set_prompt(
        self, prompt: str, negative_prompt: str, suffixes: tuple[str, ...], progress: Progress = no_progress
    ) -> None:
        """Embed "prompt, {suffix} view" for each suffix (the bare prompt for "") and the negative prompt: one
        call of the text encoder (loading it was the work ``from_run_config`` reported)."""
        if self._text_encoder is None:
            raise RuntimeError("set_prompt after release_text_encoder: build the prior again for a new prompt")
        texts = [view_prompt(prompt, suffix) if suffix else prompt for suffix in suffixes]
        with torch.no_grad():
            embeddings = self._embed_texts([*texts, negative_prompt])
        self.set_embeddings({suffix: embeddings[i : i + 1] for i, suffix in enumerate(suffixes)}, embeddings[-1:])

    def set_embeddings(self, conditional: dict[str, torch.Tensor], unconditional: torch.Tensor) -> None:
        """Condition on precomputed text embeddings, each (1, tokens, width): per view suffix, and the negative."""
        self._conditional = {suffix: e.to(self.device, self.dtype) for suffix, e in conditional.items()}
        self._unconditional = unconditional.to(self.device, self.dtype)

    def release_text_encoder(self) -> None:
        """Free the text encoder, then bring the step networks to the device (where low-memory mode parked them
        on the CPU)."""
        self._text_encoder = None
        self._tokenizer = None
        free_device_cache(self.device)
        for network in self.step_networks():
            network.to(self.device)

    def _embedding(self, suffix: str) -> torch.Tensor:
        if suffix not in self._conditional:
            raise ValueError(f"no prompt embedding for view suffix {suffix!r}; pass it to set_prompt")
        return self._conditional[suffix]

    def _mixed(self, terms: tuple[tuple[str, float], ...]) -> torch.Tensor:
        """The share-weighted sum of view prompts' embeddings (Perp-Neg's positive prompt)."""
        (suffix, share), *rest = terms
        mixed = share * self._embedding(suffix)
        for suffix, share in rest:
            mixed = mixed + share * self._embedding(suffix)
        return mixed

    def _predictions(self, noisy: torch.Tensor, t: torch.Tensor, conditions: list[torch.Tensor]) -> list[torch.Tensor]:
        """The UNet's noise predictions for ``noisy`` under each (B, tokens, width) condition, in one call;
        epsilon whatever the model predicts."""
        batch = noisy.shape[0]
        timesteps = t.to(self.device).long().reshape(-1).expand(batch)
        model_input = noisy.detach().to(self.dtype).repeat(len(conditions), 1, 1, 1)
        output = self.unet(
            model_input,
            timesteps.repeat(len(conditions)),
            encoder_hidden_states=torch.cat(conditions),
            return_dict=False,
        )[0]
        # IF also predicts the variance in extra channels; the prediction itself comes first.
        predictions = output[:, : noisy.shape[1]].float().chunk(len(conditions))
        if self.prediction_type != "v_prediction":
            return list(predictions)
        # v = sqrt(abar) eps - sqrt(1 - abar) x0  =>  eps = sqrt(abar) v + sqrt(1 - abar) x_t
        alphabar = self._alphas_cumprod[timesteps].view(-1, 1, 1, 1)
        return [alphabar.sqrt() * v + (1 - alphabar).sqrt() * noisy.detach().float() for v in predictions]

    @torch.no_grad()
    def predict_noise(
        self, noisy: torch.Tensor, t: torch.Tensor, views: list[ViewContext], guidance_scale: float
    ) -> torch.Tensor:
        if self._unconditional is None:
            raise RuntimeError("predict_noise before set_prompt")
        unconditional = self._unconditional.expand(len(views), -1, -1)
        if self.perp_neg is None:
            conditional = torch.cat([self._embedding(view.suffix) for view in views])
            eps_cond, eps_uncond = self._predictions(noisy, t, [conditional, unconditional])
            return eps_uncond + guidance_scale * (eps_cond - eps_uncond)
        plans = [perp_neg_view(view.azimuth_deg, self.perp_neg) for view in views]
        positive = torch.cat([self._mixed(plan.positive) for plan in plans])
        negatives = [torch.cat([self._embedding(plan.negatives[i][0]) for plan in plans]) for i in range(2)]
        eps_uncond, eps_pos, *eps_negatives = self._predictions(noisy, t, [unconditional, positive, *negatives])
        weights = [torch.tensor([plan.negatives[i][1] for plan in plans], device=eps_pos.device) for i in range(2)]
        return perp_neg_guided(eps_uncond, eps_pos, list(zip(eps_negatives, weights, strict=True)), guidance_scale)
