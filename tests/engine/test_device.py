"""Device choice: "auto" prefers CUDA, then MPS, then CPU; an absent GPU is a user error; fp16 only on GPUs."""

from __future__ import annotations

import pytest
import torch

from engine.device import choose_device, denoiser_dtype
from engine.errors import EngineError

HAS_MPS = torch.backends.mps.is_available()


def test_auto_gives_a_device_tensors_can_live_on() -> None:
    device = choose_device("auto")
    assert torch.ones(2, device=device).sum().item() == 2.0
    if torch.cuda.is_available():
        assert device.type == "cuda"
    elif not HAS_MPS:
        assert device.type == "cpu"


def test_auto_prefers_cuda_then_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert choose_device("auto").type == "cpu"


def test_cpu_is_always_available() -> None:
    assert choose_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_device_error_suggesting_cpu() -> None:
    with pytest.raises(EngineError) as caught:
        choose_device("cuda")
    assert caught.value.kind == "device"
    assert "'cpu'" in str(caught.value) and "'auto'" in str(caught.value)


@pytest.mark.skipif(HAS_MPS, reason="this machine has MPS")
def test_missing_mps_is_a_device_error_suggesting_cpu() -> None:
    with pytest.raises(EngineError) as caught:
        choose_device("mps")
    assert caught.value.kind == "device" and "'cpu'" in str(caught.value)


def test_unknown_device_name_lists_the_choices() -> None:
    with pytest.raises(EngineError) as caught:
        choose_device("tpu")
    assert caught.value.kind == "device" and "auto, cpu, cuda, mps" in str(caught.value)


@pytest.mark.parametrize(
    ("device", "half", "expected"),
    [
        ("cuda", True, torch.float16),
        ("mps", True, torch.float16),
        ("cuda", False, torch.float32),
        ("cpu", True, torch.float32),
        ("cpu", False, torch.float32),
    ],
)
def test_half_precision_only_on_gpus(
    device: str, half: bool, expected: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _: "NVIDIA GeForce RTX 3060")  # the machine's card
    assert denoiser_dtype(torch.device(device), half) is expected


@pytest.mark.parametrize(
    ("card", "expected"),
    [("NVIDIA GeForce GTX 1660 Ti", torch.float32), ("NVIDIA GeForce GTX 1650", torch.float32),
     ("NVIDIA GeForce GTX 1080", torch.float16), ("NVIDIA H200", torch.float16)],
)  # fmt: skip
def test_full_precision_where_half_precision_is_known_to_fail(
    card: str, expected: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _: card)  # the machine's card, not the code under test
    assert denoiser_dtype(torch.device("cuda"), half=True) is expected
