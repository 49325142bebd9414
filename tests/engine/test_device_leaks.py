"""Every stage of a run on an accelerator, checked on a machine without one.

The stand-in accelerator (``tests/stand_in_device.py``) holds real CPU data but fails an op that meets a tensor
left on the CPU, as CUDA does. On the engine before the device fixes, the first of these runs failed at the
first training step with "aten.grid_sampler_3d.default: expected all tensors to be on the same device" (the
training cameras were drawn on the CPU while the field was on the run's device), the failure every GPU user met.

A stand-in run computes with the CPU's own kernels, so with the offline priors it must end where a CPU run of the
same settings ends (to float32 rounding): that keeps the stand-in honest (an op it mishandled would change the
numbers), and shows that nothing in the engine behaves differently off the CPU. Run by hand, the whole generate on
the stand-in and on the CPU ended with identical checkpoints and meshes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine import checkpoint, optimizer
from engine.cameras import sample_cameras
from engine.config import RunConfig, override
from engine.config_assembly import default_cache_dir
from engine.prompts import run_suffixes
from engine.registry import FIELDS, PRIORS, resolve
from engine.renderer import render
from engine.shading import ShadingMode
from engine.trainer import Trainer
from tests.stand_in_device import DEVICE, LeakedTensorError, StandInDevice, StandInTensor

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "a red cube"
TINY = {
    "render.resolution": 32,
    "render.samples_per_ray": 16,
    "field.grid_resolutions": (8, 16),
    "field.mlp.hidden": 16,
    "field.mlp.blocks": 1,
    "optim.steps": 4,
    "turntable_frames": 1,
    "guidance.procedural_text.views": 8,
    "guidance.procedural.lights": 2,
    "mesh.grid_resolution": 32,
    "mesh.refine.steps": 2,  # the refinement stage on the device too, at a size that takes no time
    "mesh.refine.resolution": 32,
}


def test_the_stand_in_fails_where_a_gpu_fails() -> None:
    """The issue's own failure (cameras on the CPU, the field on the device), and the ways a GPU run may move
    data that must keep working."""
    config = RunConfig(prompt=PROMPT)
    override(config, {**TINY, "render.resolution": 8, "render.samples_per_ray": 4})
    cameras = sample_cameras(config.camera, 1, torch.Generator().manual_seed(0))
    with StandInDevice() as device:
        field = resolve(FIELDS, config.field.name, "field")(config.field).to(device)
        with pytest.raises(LeakedTensorError, match="expected all tensors to be on the same device"):
            render(field, cameras, ShadingMode.AMBIENT, config.render, config.shading)
        rgb = render(field, cameras.to(device), ShadingMode.AMBIENT, config.render, config.shading).rgb
        assert isinstance(rgb, StandInTensor) and rgb.device == device
        values = torch.arange(4.0).to(device)
        assert values[torch.tensor([True, False, True, False])].tolist() == [0.0, 2.0]  # CPU indices: allowed
        assert float(values.sum()) == 6.0 and type(values.cpu()) is torch.Tensor
        with pytest.raises(LeakedTensorError):
            torch.ones(4)[values > 1.0]  # device indices into a CPU tensor
        with pytest.raises(LeakedTensorError):
            values * torch.tensor(2.0)  # a CPU scalar tensor: MPS mishandles these
        with pytest.raises(LeakedTensorError, match="generator"):
            torch.rand(3, generator=torch.Generator(), device=device)
        with pytest.raises(RuntimeError):
            values.numpy()


CASES = {
    "procedural, sdf-grid": {},
    # at guidance scale 1 it needs no unconditional image set (building one takes a minute)
    "procedural-text, grid": {
        "guidance.prior": "procedural-text",
        "field.name": "grid",
        "guidance.guidance_scale": 1,
        "regularizers.smoothness_weight": 1.0,
    },
    "oracle, mlp": {"guidance.prior": "oracle", "field.name": "mlp", "regularizers.smoothness_weight": 1.0},
    "stable-diffusion, perp-neg": {"guidance.prior": "stable-diffusion", "guidance.perp_neg.enabled": True},
    "deepfloyd-if": {"guidance.prior": "deepfloyd-if"},
}


LEARNED_PRIORS = ("stable-diffusion", "deepfloyd-if")


@pytest.fixture
def models(request: pytest.FixtureRequest) -> Iterator[dict[str, Path]]:
    """The tiny diffusers checkpoints, built only for the cases that use them."""
    needs = request.node.callspec.params["case"]
    prior = CASES[needs].get("guidance.prior", "")
    if prior in LEARNED_PRIORS:
        yield {prior: request.getfixturevalue("tiny_" + prior.replace("-", "_"))}
    else:
        yield {}


def _steps_checkpoint_resume(config: RunConfig, device: torch.device, run_dir: Path) -> dict[str, torch.Tensor]:
    """Two steps, a checkpoint, a step, a resume from the checkpoint, the same step again (it must end where the
    first one did), a preview and the export's field queries; the checkpoint of the last step."""
    prior = resolve(PRIORS, config.guidance.prior, "prior").from_run_config(config, device, default_cache_dir())
    prior.set_prompt(config.prompt, config.guidance.negative_prompt, run_suffixes(config.guidance))
    prior.release_text_encoder()
    trainer = Trainer(config, prior, run_dir, lambda *event, **fields: None, device)
    trainer.train_step()
    trainer.train_step()
    trainer.save_checkpoint()
    trainer.train_step()
    after_step = {name: value.detach().cpu().clone() for name, value in trainer.field.state_dict().items()}
    assert trainer.resume() == 2
    trainer.train_step()
    for name, value in trainer.field.state_dict().items():
        assert torch.equal(value.detach().cpu(), after_step[name]), f"{name} differs after the resumed step"
    (run_dir / "previews").mkdir()
    trainer.write_preview()
    trainer.save_checkpoint()
    density_fn, albedo_fn = trainer.field_callables()
    points = np.random.default_rng(0).uniform(-1, 1, (64, 3)).astype(np.float32)
    with trainer.field.frozen():
        density, albedo = density_fn(points), albedo_fn(points)
    assert density.shape == (64,) and albedo.shape == (64, 3) and np.isfinite(density).all()
    return load_file(run_dir / "checkpoint" / checkpoint.STATE_FILE)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_training_checkpoint_resume_and_preview_on_the_stand_in(
    case: str, models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each prior and field on the stand-in. The offline priors' runs must end at the CPU run's numbers, within
    float32 rounding (told that tensors are elsewhere, torch picks other CPU kernels for a few ops, linear layers
    among them). The learned priors' cannot be compared so: their attention kernels differ in the last bits too,
    and a guidance scale of 100 and Adam's normalized steps make such bits visible after one step."""
    config = RunConfig(prompt=PROMPT)
    override(config, {**TINY, **CASES[case]})
    if config.guidance.prior in models:
        config.guidance.model = str(models[config.guidance.prior])
    with StandInDevice() as device:
        on_stand_in = _steps_checkpoint_resume(config, device, tmp_path / "stand-in")
    if config.guidance.prior in LEARNED_PRIORS:
        return
    # Adam's fused kernel exists for real devices only: the CPU reference takes the stand-in's implementation.
    monkeypatch.setattr(optimizer, "FUSED_ADAM_DEVICES", frozenset())
    on_cpu = _steps_checkpoint_resume(config, torch.device("cpu"), tmp_path / "cpu")
    assert on_stand_in.keys() == on_cpu.keys()
    for key, value in on_stand_in.items():
        torch.testing.assert_close(value, on_cpu[key], msg=f"{key}: the stand-in run differs from the CPU run")


def _engine(args: list[str]) -> list[dict]:
    """``python -m engine`` on the stand-in (tests/engine/stand_in_engine.py): its events; a failed run's
    traceback in the assertion."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.engine.stand_in_engine", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    errors = [event for event in events if event["event"] == "error"]
    log = Path(errors[0]["log"]).read_text() if errors and errors[0].get("log") else result.stderr[-4000:]
    assert result.returncode == 0 and not errors, f"{errors}\n{log}"
    return events


@pytest.mark.slow
def test_generate_and_resume_on_the_stand_in(tmp_path: Path) -> None:
    """A whole ``generate`` (training, previews, checkpoints, turntable, mesh export) on the stand-in device, then
    ``--resume`` with more steps from its checkpoint."""
    run_dir = tmp_path / "run"
    settings = [f"--set={key}={json.dumps(value)}" for key, value in TINY.items() if key != "optim.steps"]
    common = ["--preview-every", "2", "--checkpoint-every", "2"]
    first = _engine(["generate", f"--prompt={PROMPT}", "--steps", "4", "--out", str(run_dir), *common, *settings])
    assert first[0]["event"] == "started" and first[0]["device"] == str(DEVICE)
    assert first[-1]["event"] == "done" and first[-1]["steps"] == 4
    assert [e["step"] for e in first if e["event"] == "checkpoint"] == [2, 4]
    resumed = _engine(["generate", "--resume", str(run_dir), "--steps", "6"])
    assert resumed[0]["resumed"] is True
    assert [e["step"] for e in resumed if e["event"] == "progress"][-1] == 6
    assert resumed[-1]["event"] == "done" and resumed[-1]["steps"] == 6
    assert checkpoint.read_meta(run_dir / "checkpoint")["step"] == 6
    assert (run_dir / "mesh.npz").is_file() and (run_dir / "turntable" / "colored_00.png").is_file()
