"""The GPU path end to end: ``generate`` through the normal CLI on each prior, timed and measured, as JSON.

    python -m bench.device_check --device cuda              # on a lent GPU (bench/device_check.sh runs this)
    python -m bench.device_check --device cpu --tiny        # the same code on tiny networks, a few steps (tests)

Cases: the offline prior at 64x64; Stable Diffusion 2.1-base and DeepFloyd IF-I-XL built from their public configs
with RANDOM weights (``bench/random_checkpoint.py``), saved as diffusers folders and loaded by ``generate --model``,
each in the usual and the low-memory mode, each running its prior's own recipe (engine/recipes.py: field, samples per
ray, schedules) for 300 steps, not a few toy ones. Each case is one engine process (``bench/engine_run.py``); the
numbers are the engine's own: it/s over the optimization, the render / prior / update split of the steps (the
``phase_s`` of its events) and its peak memory (``peak_memory``). Random weights: throughput and memory only, never
quality. Results are written after every case to bench/results/device_check.json (device_check_tiny.json with
--tiny), so a run cut short keeps what it measured; ``python -m bench report`` shows them beside their targets
(bench/targets.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.device import choose_device, denoiser_dtype
from engine.recipes import recipe_for

from .architectures import DEEPFLOYD_IF_I_XL, FULL_SIZE, STABLE_DIFFUSION_2_1_BASE, TINY, Architecture
from .device_check_results import CaseResult, DeviceCheckPayload
from .engine_run import EngineRequest, RunRecord, run_engine
from .random_checkpoint import save_random_checkpoint
from .results_file import DEVICE_CHECK, RESULTS_DIR, Envelope, Results, write_results
from .targets import Target, target

LABEL = "random weights, throughput only"
GB = 1e9
PROMPT = "a red cube"
# Small settings for --tiny: the same cases and code, seconds on a CPU.
TINY_OVERRIDES = (
    ("render.samples_per_ray", 16),
    ("mesh.grid_resolution", 32),
    ("turntable_frames", 1),
    ("preview_every", 0),
)


@dataclass(frozen=True)
class CaseTarget:
    """A case's bars, rows of bench/targets.py (None: none set)."""

    it_per_s: Target | None = None
    peak: Target | None = None

    def text(self) -> str:
        parts = [f">= {self.it_per_s.threshold:g} it/s"] if self.it_per_s else []
        parts += [f"peak <= {self.peak.threshold / GB:g} GB"] if self.peak else []
        return ", ".join(parts) or "-"

    def met(self, it_per_s: float | None, peak: int | None) -> bool | None:
        if it_per_s is None:
            return None
        fast = self.it_per_s is None or self.it_per_s.met(it_per_s)
        small = self.peak is None or (peak is not None and self.peak.met(peak))
        return fast and small


LEARNED_STEPS = 300  # of the learned recipes' 10,000: long enough for a steady rate and the peak of the real recipe


@dataclass(frozen=True)
class Case:
    name: str
    prior: str
    architecture: str | None  # the learned prior's checkpoint shapes (None: the offline prior)
    low_memory: bool
    steps: int  # full size; --tiny runs TINY_STEPS
    target: CaseTarget


SD, IF = STABLE_DIFFUSION_2_1_BASE, DEEPFLOYD_IF_I_XL
SD_TARGET = CaseTarget(target("device-sd-it-per-s"), target("device-sd-peak"))
IF_PEAK = CaseTarget(peak=target("device-if-peak"))
CASES = (
    Case("offline", "procedural", None, False, 600, CaseTarget(it_per_s=target("device-offline-it-per-s"))),
    Case("sd", SD.prior, SD.name, False, LEARNED_STEPS, SD_TARGET),
    Case("sd-low-memory", SD.prior, SD.name, True, LEARNED_STEPS, CaseTarget(peak=target("device-sd-low-memory-peak"))),
    Case("if-low-memory", IF.prior, IF.name, True, LEARNED_STEPS, IF_PEAK),
    Case("if", IF.prior, IF.name, False, LEARNED_STEPS, IF_PEAK),
)
TINY_STEPS = 3


def case_result(case: Case, architecture: str, record: RunRecord, judged: bool) -> CaseResult:
    """The case's row; ``judged``: full-size networks on CUDA, where the targets apply."""
    phases = record.phase_s or {}
    total = sum(phases.values())
    steps = max(record.steps, 1)
    peak = record.peak_memory or {}
    headline = peak.get("process_bytes") if peak.get("device") == "cpu" else peak.get("reserved_bytes")
    return CaseResult(
        case=case.name,
        prior=case.prior,
        recipe=recipe_for(case.prior).name,
        architecture=architecture,
        low_memory=case.low_memory,
        steps=record.steps,
        it_per_s=record.it_per_s,
        phase_share={k: round(v / total, 3) for k, v in phases.items()} if total > 0 else None,
        ms_per_step={k: round(1000 * v / steps, 2) for k, v in phases.items()} if phases else None,
        peak_memory_bytes=headline,
        peak_allocated_bytes=peak.get("allocated_bytes"),
        process_peak_bytes=peak.get("process_bytes"),
        load_s=record.prior_s,
        wall_s=record.wall_s,
        target=case.target.text(),
        meets_target=case.target.met(record.it_per_s, headline) if judged else None,
        error=record.error,
    )


def model_folder(architecture: Architecture, work: Path, device: torch.device, built: dict[str, Path]) -> Path:
    """The random-weight diffusers folder of ``architecture`` (saved once, in the precision the engine will load)."""
    if architecture.name not in built:
        dtype = denoiser_dtype(device, half=True)
        built[architecture.name] = save_random_checkpoint(architecture, work / architecture.prior, device, dtype)
    return built[architecture.name]


def run_case(
    case: Case, args: argparse.Namespace, work: Path, device: torch.device, built: dict[str, Path]
) -> CaseResult:
    architectures = {a.name.removesuffix(" (tiny widths)"): a for a in (TINY if args.tiny else FULL_SIZE)}
    architecture = architectures[case.architecture] if case.architecture else None
    model = model_folder(architecture, work, device, built) if architecture else None
    request = EngineRequest(
        prompt=PROMPT,
        preset="fast",
        steps=TINY_STEPS if args.tiny else case.steps,
        prior=case.prior,
        model=model,
        device=device.type,
        low_memory=case.low_memory,
        overrides=TINY_OVERRIDES if args.tiny else (),
    )
    record = run_engine(request, work / "runs" / case.name)
    judged = device.type == "cuda" and not args.tiny
    return case_result(case, architecture.name if architecture else "procedural (offline)", record, judged)


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def print_row(result: CaseResult) -> None:
    share = result.phase_share or {}
    split = " / ".join(f"{share.get(k, 0):.0%}" for k in ("render", "prior", "update"))
    peak = "-" if result.peak_memory_bytes is None else f"{result.peak_memory_bytes / GB:.2f}"
    it_per_s = "-" if result.it_per_s is None else f"{result.it_per_s:.2f}"
    print(
        f"{result.case:<15} {it_per_s:>8} it/s  render/prior/update {split:<17} peak {peak:>6} GB  {result.error or ''}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda | mps | cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny networks and a few steps: the CPU check of this")
    parser.add_argument("--cases", default=",".join(c.name for c in CASES), help="comma-separated case names")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/device_check.json)")
    parser.add_argument("--work", type=Path, default=None, help="where models and runs go (default: a temp folder)")
    args = parser.parse_args(argv)
    device = choose_device(args.device)
    if device.type == "cpu" and not args.tiny:
        print("full-size models need a GPU; use --tiny on a CPU", file=sys.stderr)
        return 2
    names = args.cases.split(",")
    unknown = sorted(set(names) - {c.name for c in CASES})
    if unknown:
        print(f"unknown cases {unknown}; choose from {[c.name for c in CASES]}", file=sys.stderr)
        return 2
    out = args.out or RESULTS_DIR / ("device_check_tiny.json" if args.tiny else DEVICE_CHECK.name)
    work = args.work or Path(tempfile.mkdtemp(prefix="device-check-"))
    payload = DeviceCheckPayload(
        label=LABEL,
        tiny=args.tiny,
        device=device_name(device),
        dtype=str(denoiser_dtype(device, half=True)).removeprefix("torch."),
        notes=[
            "Random weights: throughput and memory only. Each case is one `generate` process through the normal CLI "
            "running its prior's recipe (engine/recipes.py, docs/recipes.md: the learned ones on the hash-grid "
            "field, 64x64 renders) for its step count, preset fast, previews and checkpoints as usual; it/s is the "
            "engine's own average over the optimization, which includes the first steps' warm-up.",
            "render: the volume render forward; prior: encoding the render (SD's VAE) and the UNet on [cond; uncond]; "
            "update: the loss, the backward pass (through SD's VAE encoder and the renderer) and Adam.",
            "Peak memory: CUDA's max_memory_reserved over the whole process, model loading included.",
        ],
    )
    built: dict[str, Path] = {}
    started = time.perf_counter()
    for case in (c for c in CASES if c.name in names):
        result = run_case(case, args, work, device, built)
        print_row(result)
        payload.results.append(result)
        payload.elapsed_s = round(time.perf_counter() - started, 1)
        write_results(out, Results(Envelope.now(DEVICE_CHECK.kind), payload.to_json()))
    print(f"wrote {out}")
    return 0 if all(r.error is None for r in payload.results) else 1


if __name__ == "__main__":
    sys.exit(main())
