"""The DeepFloyd IF stage I prior on a tiny real checkpoint: loading, CFG against diffusers' IF pipeline
(first three of six output channels), pixel-space encoding, SDS steps and IF-specific load errors."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from diffusers import DDPMScheduler, IFPipeline

from engine.errors import PriorError
from engine.guidance.deepfloyd_if import DeepFloydIFPrior
from engine.registry import PRIORS, resolve
from tests.fixtures.prior_checks import run_config_for, sds_steps, views

CPU = torch.device("cpu")
PROMPT = "A Red Cube"  # IF lower-cases prompts itself
NEGATIVE = "low quality"
ROOT = Path(__file__).resolve().parents[2]


def load_prior(folder: Path) -> DeepFloydIFPrior:
    return DeepFloydIFPrior.from_run_config(run_config_for(str(folder)), CPU, None)


@pytest.fixture(scope="module")
def pipeline(tiny_deepfloyd_if: Path) -> IFPipeline:
    """diffusers' own IF pipeline over the tiny checkpoint: the reference the prior is checked against."""
    return IFPipeline.from_pretrained(tiny_deepfloyd_if, safety_checker=None, watermarker=None)


@pytest.fixture
def prior(tiny_deepfloyd_if: Path) -> DeepFloydIFPrior:
    prior = load_prior(tiny_deepfloyd_if)
    prior.set_prompt(PROMPT, NEGATIVE, ("front", "back", ""))
    return prior


def test_registry_name_resolves_to_the_prior() -> None:
    assert resolve(PRIORS, "deepfloyd-if", "prior") is DeepFloydIFPrior


def test_loads_folder_with_the_checkpoints_noise_schedule(tiny_deepfloyd_if: Path) -> None:
    prior = load_prior(tiny_deepfloyd_if)
    scheduler = DDPMScheduler.from_pretrained(tiny_deepfloyd_if, subfolder="scheduler")
    torch.testing.assert_close(prior.alphas_cumprod, scheduler.alphas_cumprod.float())
    assert prior.num_train_timesteps == 1000
    assert prior.input_resolution == 64 and prior.image_size == 64
    assert prior.registered().default_guidance_scale == 21.0  # threestudio's 20 in its convention


@pytest.mark.parametrize("scale", [0.0, 1.0, 20.0])
@pytest.mark.slow
def test_guided_noise_is_uncond_plus_scale_times_difference_of_the_eps_channels(
    prior: DeepFloydIFPrior, pipeline: IFPipeline, scale: float
) -> None:
    noisy = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([900, 50])
    eps = prior.predict_noise(noisy, t, views("back", ""), scale)

    expected = []
    with torch.no_grad():
        for prompt, sample, step in zip([f"{PROMPT}, back view", PROMPT], noisy, t, strict=True):
            cond, uncond = pipeline.encode_prompt(prompt, True, device=CPU, negative_prompt=NEGATIVE)
            out_cond = pipeline.unet(sample[None], step, encoder_hidden_states=cond).sample
            out_uncond = pipeline.unet(sample[None], step, encoder_hidden_states=uncond).sample
            assert out_cond.shape[1] == 6  # eps and the learned variance
            eps_cond, eps_uncond = out_cond[:, :3], out_uncond[:, :3]
            expected.append(eps_uncond + scale * (eps_cond - eps_uncond))
    # Batched and single UNet calls differ by float rounding, which the guidance scale amplifies.
    torch.testing.assert_close(eps, torch.cat(expected), rtol=1e-4, atol=1e-5 * (1 + scale))


def test_encode_maps_pixels_to_minus_one_one_and_resizes_other_sizes(prior: DeepFloydIFPrior) -> None:
    render = torch.rand(2, 3, 64, 64, requires_grad=True)
    pixels = prior.encode(render)
    torch.testing.assert_close(pixels, render * 2 - 1)
    pixels.sum().backward()
    torch.testing.assert_close(render.grad, torch.full_like(render, 2.0))

    flat = torch.full((1, 3, 32, 32), 0.25)
    resized = prior.encode(flat)
    assert resized.shape == (1, 3, 64, 64)
    torch.testing.assert_close(resized, torch.full_like(resized, -0.5))


@pytest.mark.slow
def test_a_few_sds_steps_move_the_image_and_leave_the_model_alone(prior: DeepFloydIFPrior) -> None:
    prior.set_prompt(PROMPT, "", ("front", "side", "back", "overhead"))
    prior.release_text_encoder()
    image = torch.nn.Parameter(torch.full((1, 3, 64, 64), 0.5))
    grad_norms = sds_steps(prior, image, steps=3, generator=torch.Generator().manual_seed(2))
    assert all(torch.isfinite(torch.tensor(grad_norms))) and min(grad_norms) > 0
    assert not torch.allclose(image.detach(), torch.full_like(image, 0.5))
    assert all(p.grad is None for p in prior.unet.parameters())


def test_latent_models_are_refused(tiny_stable_diffusion: Path) -> None:
    with pytest.raises(PriorError, match="does not look like DeepFloyd IF"):
        load_prior(tiny_stable_diffusion)


def test_missing_text_encoder_is_named(tiny_deepfloyd_if: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(tiny_deepfloyd_if, tmp_path / "no-t5"))
    shutil.rmtree(folder / "text_encoder")
    with pytest.raises(PriorError, match=re.escape("text_encoder/config.json")):
        load_prior(folder)


def test_default_hub_id_not_cached_while_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(PriorError, match=re.escape("DeepFloyd/IF-I-XL-v1.0 is not in the local model cache")):
        DeepFloydIFPrior.from_run_config(run_config_for(None), CPU, None)


def spiece_only_checkpoint(tiny_deepfloyd_if: Path, folder: Path) -> Path:
    """The tiny checkpoint with its tokenizer stored the way the hub's IF checkpoints ship it: spiece.model only.

    The SentencePiece model is trained here on a few prompts, with T5's special ids (<pad>=0, </s>=1, <unk>=2).
    """
    import sentencepiece

    folder = Path(shutil.copytree(tiny_deepfloyd_if, folder))
    (folder / "tokenizer" / "tokenizer.json").unlink()
    corpus = ["a red cube", "a blue sphere on top of a green cone", "a ceramic mug", "abcdefghijklmnopqrstuvwxyz"]
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus * 20), model_writer=model, vocab_size=40, hard_vocab_limit=False,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, minloglevel=2,
    )  # fmt: skip
    (folder / "tokenizer" / "spiece.model").write_bytes(model.getvalue())
    return folder


@pytest.mark.slow
def test_a_sentencepiece_only_tokenizer_loads_and_conditions_the_prior(tiny_deepfloyd_if: Path, tmp_path: Path) -> None:
    prior = load_prior(spiece_only_checkpoint(tiny_deepfloyd_if, tmp_path / "spiece"))
    noisy = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([500])
    predictions = []
    for prompt in ("a red cube", "a green cone"):
        prior.set_prompt(prompt, NEGATIVE, ("",))
        predictions.append(prior.predict_noise(noisy, t, views(""), guidance_scale=20.0))
    assert all(torch.isfinite(p).all() for p in predictions)
    assert not torch.allclose(*predictions), "the prompt, read by the SentencePiece tokenizer, steers the noise"


@pytest.mark.slow
def test_a_python_without_sentencepiece_is_told_to_install_it(tiny_deepfloyd_if: Path, tmp_path: Path) -> None:
    """A studio's own engine Python may lack the package: a real process in which it cannot be imported."""
    folder = spiece_only_checkpoint(tiny_deepfloyd_if, tmp_path / "spiece")
    script = f"""
import sys
sys.modules["sentencepiece"] = None  # import sentencepiece now fails, as where it is not installed
from engine.errors import PriorError
from tests.engine.test_deepfloyd_if_prior import load_prior
try:
    load_prior({str(folder)!r})
except PriorError as exc:
    print(exc)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "install the sentencepiece and protobuf packages" in result.stdout, result.stdout + result.stderr
