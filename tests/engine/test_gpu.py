"""What only a CUDA GPU can check: event-timed step phases, CUDA's peak memory, the low-memory mode's placement
on a real device. Marked ``gpu`` and skipped without CUDA; ``bench/device_check.sh`` runs them on a lent GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.guidance.stable_diffusion import StableDiffusionPrior
from engine.peak_memory import PeakMemoryMeter
from engine.step_timer import StepTimer
from tests.fixtures.prior_checks import run_config_for, views

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
CUDA = torch.device("cuda")


def test_step_timer_charges_queued_gpu_work_to_its_phase() -> None:
    timer = StepTimer(CUDA)
    a = torch.randn(4096, 4096, device=CUDA)
    timer.start()
    for _ in range(20):
        a = a @ a / 64
    timer.lap("matmul")  # queued, not done: a wall clock would charge it to the next lap
    timer.lap("nothing")
    totals = timer.totals()
    assert totals["matmul"] > 10 * totals["nothing"]


def test_peak_memory_sees_a_freed_allocation() -> None:
    meter = PeakMemoryMeter(CUDA)
    before = meter.sample().allocated_bytes or 0
    block = torch.empty(256 * 2**20, dtype=torch.uint8, device=CUDA)
    del block
    peak = meter.sample()
    assert peak.device == "cuda" and peak.allocated_bytes is not None
    assert peak.allocated_bytes >= before + 256 * 2**20 and peak.headline_bytes == peak.reserved_bytes


def test_low_memory_keeps_the_unet_off_the_gpu_until_the_text_encoder_is_freed(tiny_stable_diffusion: Path) -> None:
    run = run_config_for(str(tiny_stable_diffusion))
    run.guidance.low_memory = True
    prior = StableDiffusionPrior.from_run_config(run, CUDA, None)
    assert next(prior.unet.parameters()).device.type == "cpu"
    assert next(prior._text_encoder.parameters()).device.type == "cuda"
    prior.set_prompt("a red cube", "", ("front",))
    prior.release_text_encoder()
    assert next(prior.unet.parameters()).device.type == "cuda"
    render = torch.rand(1, 3, 64, 64, device=CUDA, requires_grad=True)
    latents = prior.encode(render)
    eps = prior.predict_noise(latents, torch.tensor([500]), views("front"), 100.0)
    assert eps.device.type == "cuda" and torch.isfinite(eps).all()
