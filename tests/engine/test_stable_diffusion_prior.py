"""The Stable Diffusion prior on tiny real checkpoints: loading, CFG against diffusers' own pipeline, SDS steps,
and the load errors a user can hit (missing folder, broken folder, pickled weights, not cached offline)."""

from __future__ import annotations

import shutil
import weakref
from pathlib import Path

import pytest
import torch
from diffusers import DDPMScheduler, PNDMScheduler, StableDiffusionPipeline
from safetensors.torch import load_file, save_file

from engine.errors import EngineError, PriorError
from engine.guidance.model_loading import PartLoader, resolve_model
from engine.guidance.stable_diffusion import StableDiffusionPrior
from engine.registry import PRIORS, resolve
from engine.stage_progress import Stopped, no_progress
from tests.fixtures.prior_checks import copy_into_hub_cache, run_config_for, sds_steps, views
from tests.fixtures.tiny_models import build_tiny_stable_diffusion

CPU = torch.device("cpu")
PROMPT = "a red cube"
NEGATIVE = "blurry"


def load_prior(model: Path | str) -> StableDiffusionPrior:
    return StableDiffusionPrior.from_run_config(run_config_for(str(model)), CPU, None)


def reference_pipeline(folder: Path) -> StableDiffusionPipeline:
    return StableDiffusionPipeline.from_pretrained(folder, safety_checker=None)


def reference_guided_output(
    pipeline: StableDiffusionPipeline, prompts: list[str], noisy: torch.Tensor, t: torch.Tensor, scale: float
) -> torch.Tensor:
    """uncond + s (cond - uncond), one image and one UNet call at a time, with diffusers' own prompt encoding."""
    outputs = []
    with torch.no_grad():
        for prompt, sample, step in zip(prompts, noisy, t, strict=True):
            cond, uncond = pipeline.encode_prompt(prompt, CPU, 1, True, negative_prompt=NEGATIVE)
            eps_cond = pipeline.unet(sample[None], step, encoder_hidden_states=cond).sample
            eps_uncond = pipeline.unet(sample[None], step, encoder_hidden_states=uncond).sample
            outputs.append(eps_uncond + scale * (eps_cond - eps_uncond))
    return torch.cat(outputs)


@pytest.fixture(scope="module")
def pipeline(tiny_stable_diffusion: Path) -> StableDiffusionPipeline:
    """diffusers' own pipeline over the tiny checkpoint: the reference the prior is checked against."""
    return reference_pipeline(tiny_stable_diffusion)


@pytest.fixture
def prior(tiny_stable_diffusion: Path) -> StableDiffusionPrior:
    prior = load_prior(tiny_stable_diffusion)
    prior.set_prompt(PROMPT, NEGATIVE, ("front", "side", ""))
    return prior


def test_registry_name_resolves_to_the_prior() -> None:
    assert resolve(PRIORS, "stable-diffusion", "prior") is StableDiffusionPrior


def test_loads_folder_with_the_checkpoints_noise_schedule(tiny_stable_diffusion: Path) -> None:
    prior = load_prior(tiny_stable_diffusion)
    scheduler = PNDMScheduler.from_pretrained(tiny_stable_diffusion, subfolder="scheduler")
    assert prior.num_train_timesteps == 1000
    torch.testing.assert_close(prior.alphas_cumprod, scheduler.alphas_cumprod.float())
    assert prior.input_resolution == 64
    assert prior.registered().default_guidance_scale == 101.0  # the paper's and threestudio's 100 in their convention
    assert prior.dtype == torch.float32  # half precision is for GPUs only
    assert not any(p.requires_grad for p in prior.unet.parameters())


@pytest.mark.parametrize("scale", [0.0, 1.0, 7.5, 100.0])
@pytest.mark.slow
def test_guided_noise_is_uncond_plus_scale_times_difference(
    prior: StableDiffusionPrior, pipeline: StableDiffusionPipeline, scale: float
) -> None:
    generator = torch.Generator().manual_seed(1)
    noisy = torch.randn(2, 4, 8, 8, generator=generator)
    t = torch.tensor([700, 30])
    eps = prior.predict_noise(noisy, t, views("front", ""), scale)
    expected = reference_guided_output(pipeline, [f"{PROMPT}, front view", PROMPT], noisy, t, scale)
    # Batched and single UNet calls differ by float rounding, which the guidance scale amplifies.
    torch.testing.assert_close(eps, expected, rtol=1e-4, atol=1e-5 * (1 + scale))


@pytest.mark.slow
def test_each_view_gets_its_own_prompt(prior: StableDiffusionPrior) -> None:
    noisy = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([500])
    front = prior.predict_noise(noisy, t, views("front"), 7.5)
    side = prior.predict_noise(noisy, t, views("side"), 7.5)
    assert not torch.allclose(front, side)
    with pytest.raises(ValueError, match="back"):
        prior.predict_noise(noisy, t, views("back"), 7.5)


def test_encode_matches_diffusers_preprocessing_and_keeps_the_graph(
    prior: StableDiffusionPrior, pipeline: StableDiffusionPipeline
) -> None:
    native = torch.rand(2, 3, prior.image_size, prior.image_size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = pipeline.vae.encode(pipeline.image_processor.preprocess(native)).latent_dist.mode()
    torch.testing.assert_close(prior.encode(native), expected * pipeline.vae.config.scaling_factor)

    render = torch.rand(2, 3, 64, 64, requires_grad=True)
    latents = prior.encode(render)
    assert latents.shape == (2, 4, 8, 8) and latents.dtype == torch.float32
    latents.sum().backward()
    assert render.grad is not None and render.grad.abs().sum() > 0


def test_predict_noise_builds_no_graph_through_the_unet(prior: StableDiffusionPrior) -> None:
    render = torch.rand(1, 3, 64, 64, requires_grad=True)
    latents = prior.encode(render)
    eps = prior.predict_noise(latents, torch.tensor([400]), views("side"), 100.0)
    assert not eps.requires_grad


@pytest.mark.slow
def test_a_few_sds_steps_move_the_image_and_leave_the_model_alone(prior: StableDiffusionPrior) -> None:
    prior.set_prompt(PROMPT, "", ("front", "side", "back", "overhead"))
    prior.release_text_encoder()
    before = {name: p.clone() for name, p in prior.unet.named_parameters()}
    image = torch.nn.Parameter(torch.full((2, 3, 64, 64), 0.5))
    grad_norms = sds_steps(prior, image, steps=3, generator=torch.Generator().manual_seed(4))
    assert all(torch.isfinite(torch.tensor(grad_norms))) and min(grad_norms) > 0
    assert not torch.allclose(image.detach(), torch.full_like(image, 0.5))
    assert all(p.grad is None for p in prior.unet.parameters())
    assert all(torch.equal(p, before[name]) for name, p in prior.unet.named_parameters())


def test_release_text_encoder_frees_it(tiny_stable_diffusion: Path) -> None:
    prior = load_prior(tiny_stable_diffusion)
    encoder = weakref.ref(prior._text_encoder)
    prior.set_prompt(PROMPT, "", ("front",))
    prior.release_text_encoder()
    assert encoder() is None
    assert prior.predict_noise(torch.zeros(1, 4, 8, 8), torch.tensor([10]), views("front"), 100.0).shape == (
        1,
        4,
        8,
        8,
    )
    with pytest.raises(RuntimeError, match="release_text_encoder"):
        prior.set_prompt("another prompt", "", ("front",))


def test_v_prediction_models_return_epsilon(tmp_path: Path) -> None:
    folder = build_tiny_stable_diffusion(tmp_path / "v", prediction_type="v_prediction")
    prior = load_prior(folder)
    prior.set_prompt(PROMPT, NEGATIVE, ("front",))
    noisy = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(5))
    t = torch.tensor([600])
    eps = prior.predict_noise(noisy, t, views("front"), 7.5)

    velocity = reference_guided_output(reference_pipeline(folder), [f"{PROMPT}, front view"], noisy, t, 7.5)
    scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler", clip_sample=False)
    x0 = scheduler.step(velocity, int(t), noisy).pred_original_sample
    alphabar = scheduler.alphas_cumprod[t]
    torch.testing.assert_close(eps, (noisy - alphabar.sqrt() * x0) / (1 - alphabar).sqrt(), rtol=1e-4, atol=1e-5)


def test_unsupported_prediction_type_is_a_prior_error(tmp_path: Path) -> None:
    folder = build_tiny_stable_diffusion(tmp_path / "sample", prediction_type="sample")
    with pytest.raises(PriorError, match="'sample'"):
        load_prior(folder)


def test_hub_id_loads_from_the_local_cache_offline(
    tiny_stable_diffusion: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    copy_into_hub_cache(tiny_stable_diffusion, tmp_path, "local/tiny-sd")
    prior = load_prior("local/tiny-sd")
    reference = load_prior(tiny_stable_diffusion)
    for loaded in (prior, reference):
        loaded.set_prompt(PROMPT, "", ("front",))
    noisy = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(6))
    t = torch.tensor([300])
    torch.testing.assert_close(
        prior.predict_noise(noisy, t, views("front"), 100.0), reference.predict_noise(noisy, t, views("front"), 100.0)
    )


def test_fp16_file_variant_alone_is_enough(tiny_stable_diffusion: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_stable_diffusion, tmp_path / "fp16-only"))
    unet = folder / "unet"
    (unet / "diffusion_pytorch_model.safetensors").rename(unet / "diffusion_pytorch_model.fp16.safetensors")
    prior, reference = load_prior(folder), load_prior(tiny_stable_diffusion)
    for (name, param), (_, expected) in zip(
        prior.unet.named_parameters(), reference.unet.named_parameters(), strict=True
    ):
        assert torch.equal(param, expected), name


@pytest.mark.parametrize(("dtype", "expect_variant"), [(torch.float16, True), (torch.float32, False)])
def test_half_precision_reads_the_fp16_variant_when_both_are_there(
    tiny_stable_diffusion: Path, tmp_path: Path, dtype: torch.dtype, expect_variant: bool
) -> None:
    folder = Path(shutil.copytree(tiny_stable_diffusion, tmp_path / "both"))
    full = load_file(folder / "unet" / "diffusion_pytorch_model.safetensors")
    marked = {name: torch.full_like(tensor, 0.5, dtype=torch.float16) for name, tensor in full.items()}
    save_file(marked, folder / "unet" / "diffusion_pytorch_model.fp16.safetensors")
    source = resolve_model(str(folder), StableDiffusionPrior.parts, offline=True, cache_dir=None, prior="test")
    prior = StableDiffusionPrior.load(PartLoader(source, StableDiffusionPrior.parts, no_progress), CPU, dtype)
    expected = marked if expect_variant else full
    for name, param in prior.unet.named_parameters():
        assert param.dtype == dtype
        torch.testing.assert_close(param, expected[name].to(dtype))


def user_error(model: str | None) -> PriorError:
    with pytest.raises(PriorError) as caught:
        StableDiffusionPrior.from_run_config(run_config_for(model), CPU, None)
    error = caught.value
    assert isinstance(error, EngineError) and error.kind == "prior"
    assert "\n" not in str(error)
    return error


def test_missing_folder(tmp_path: Path) -> None:
    assert "does not exist" in str(user_error(str(tmp_path / "nowhere" / "sd")))


def test_folder_that_is_not_a_diffusers_model(tmp_path: Path) -> None:
    assert "model_index.json" in str(user_error(str(tmp_path)))


def test_folder_missing_parts_names_them(tiny_stable_diffusion: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_stable_diffusion, tmp_path / "broken"))
    shutil.rmtree(folder / "unet")
    (folder / "scheduler" / "scheduler_config.json").unlink()
    message = str(user_error(str(folder)))
    assert "unet/config.json" in message and "unet weights" in message
    assert "scheduler/scheduler_config.json" in message and "vae" not in message


def test_pickled_weights_are_refused(tiny_stable_diffusion: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_stable_diffusion, tmp_path / "pickled"))
    (folder / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    (folder / "vae" / "diffusion_pytorch_model.bin").write_bytes(b"never unpickled")
    message = str(user_error(str(folder)))
    assert "vae" in message and "pickled" in message


def test_damaged_weights(tiny_stable_diffusion: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_stable_diffusion, tmp_path / "damaged"))
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    assert "could not load the unet" in str(user_error(str(folder)))


def test_default_hub_id_not_cached_while_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    message = str(user_error(None))
    assert "stabilityai/stable-diffusion-2-1-base" in message and "not in the local model cache" in message
    assert "hf download stabilityai/stable-diffusion-2-1-base" in message


def test_incomplete_cached_download_names_the_missing_part(
    tiny_stable_diffusion: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    snapshot = copy_into_hub_cache(tiny_stable_diffusion, tmp_path, "local/tiny-sd")
    (snapshot / "text_encoder" / "model.safetensors").unlink()
    message = str(user_error("local/tiny-sd"))
    assert "cached copy of local/tiny-sd" in message and "text_encoder weights" in message


def test_name_that_is_neither_folder_nor_hub_id() -> None:
    assert "neither" in str(user_error("not a model!"))


def test_other_model_families_are_refused(tiny_deepfloyd_if: Path) -> None:
    assert "vae/config.json" in str(user_error(str(tiny_deepfloyd_if)))


def test_loading_reports_each_part_and_a_stop_lands_between_parts(tiny_stable_diffusion: Path) -> None:
    """The learned priors' preparation is loading their parts: each part loaded is reported (the stage's bar),
    and a stop requested while one loads ends the loading before the next."""
    run = run_config_for(str(tiny_stable_diffusion))
    seen: list[float] = []
    StableDiffusionPrior.from_run_config(run, CPU, None, seen.append)
    parts = len(StableDiffusionPrior.parts)
    assert seen == [index / parts for index in range(parts + 1)]

    loaded: list[float] = []

    def stop_after_the_unet(fraction: float) -> None:
        loaded.append(fraction)
        if fraction > 0:
            raise Stopped

    with pytest.raises(Stopped):
        StableDiffusionPrior.from_run_config(run, CPU, None, stop_after_the_unet)
    assert loaded == [0.0, 1 / parts]
