"""One ``python -m engine generate`` run in its own process, timed and measured as a user would see it.

Each run is a direct child waited for with ``os.wait4``, so its peak resident memory is its own
(``RUSAGE_CHILDREN`` would be the maximum over every child so far). Events are timestamped as they
arrive, which splits the wall time into start-up, prior, optimization and the finish (turntable,
mesh, bake, export) without the engine having to report them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import protocol
from engine.cli import build_parser
from engine.config_assembly import build_config, default_cache_dir

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class EngineRequest:
    """What to generate; ``overrides`` are engine config fields (``--set section.field=JSON``)."""

    prompt: str
    preset: str = "fast"
    steps: int | None = None  # None: the preset's
    seed: int = 0
    overrides: tuple[tuple[str, Any], ...] = ()
    negative_prompt: str | None = None
    cache_dir: Path | None = None  # the procedural prior's image-set cache; None: the engine's default
    prior: str = "procedural"
    model: Path | None = None  # a learned prior's model folder
    device: str | None = None  # None: the engine's "auto"
    low_memory: bool = False

    def argv(self, out: Path) -> list[str]:
        """The engine's command line (a list: nothing here passes through a shell)."""
        args = ["generate", "--prompt", self.prompt, "--prior", self.prior, "--preset", self.preset]
        args += ["--seed", str(self.seed), "--out", str(out)]
        if self.steps is not None:
            args += ["--steps", str(self.steps)]
        if self.negative_prompt is not None:
            args += ["--negative-prompt", self.negative_prompt]
        if self.cache_dir is not None:
            args += ["--cache-dir", str(self.cache_dir)]
        if self.model is not None:
            args += ["--model", str(self.model)]
        if self.device is not None:
            args += ["--device", self.device]
        if self.low_memory:
            args.append("--low-memory")
        for key, value in self.overrides:
            args += ["--set", f"{key}={json.dumps(value)}"]
        return args


@dataclass
class RunRecord:
    """What one run took and produced. Times are seconds from the process start."""

    prompt: str
    run_dir: str
    exit_code: int
    error: str | None
    steps: int
    wall_s: float  # process start to exit: what a user waits for, prompt to mesh
    peak_rss_mib: float
    it_per_s: float | None  # the engine's own average over the optimization
    startup_s: float | None  # until the first event (interpreter and imports)
    prior_s: float | None  # preparing the prior (a cached procedural image set is only loaded)
    optimize_s: float | None
    finish_s: float | None  # turntable, mesh, bake and export
    mesh: str | None
    faces: int | None
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) of every progress event
    phase_s: dict[str, float] | None = None  # the engine's render / prior / update seconds (done, else last progress)
    peak_memory: dict[str, Any] | None = None  # the engine's own peaks (done's peak_memory)
    refine_s: float | None = None  # the mesh refinement stage (None: off), part of finish_s

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.mesh is not None


def run_engine(request: EngineRequest, run_dir: Path) -> RunRecord:
    """Run the engine into ``run_dir`` (which must not hold a run yet) and measure it."""
    command = [sys.executable, "-m", "engine", *request.argv(run_dir)]
    arrivals: dict[str, float] = {}
    losses: list[tuple[int, float]] = []
    last: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryFile(mode="w+") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        for line in process.stdout or ():
            now = time.perf_counter() - started
            try:
                event = protocol.decode(line)
            except protocol.ProtocolError:
                continue
            name = event["event"]
            key = f"stage:{event.get('name')}" if name == protocol.STAGE else name
            arrivals.setdefault(key, now)
            last[name] = event
            if name == protocol.PROGRESS:
                arrivals["last_progress"] = now
                losses.append((int(event["step"]), float(event["loss"])))
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        stderr_tail = stderr.read()[-2000:]
    done = last.get(protocol.DONE)
    error = None
    if done is None:
        reported = last.get(protocol.ERROR, {}).get("message")
        error = reported or f"the engine exited with code {process.returncode}: {stderr_tail.strip()[-500:]}"

    def between(first: str, then: str) -> float | None:
        return round(arrivals[then] - arrivals[first], 3) if first in arrivals and then in arrivals else None

    return RunRecord(
        prompt=request.prompt,
        run_dir=str(run_dir),
        exit_code=process.returncode,
        error=error,
        steps=int(done["steps"]) if done else (losses[-1][0] if losses else 0),
        wall_s=round(wall, 3),
        peak_rss_mib=round(usage.ru_maxrss / 1024.0, 1),  # Linux reports KiB
        it_per_s=float(last[protocol.PROGRESS]["it_per_s"]) if protocol.PROGRESS in last else None,
        startup_s=round(arrivals[protocol.STARTED], 3) if protocol.STARTED in arrivals else None,
        prior_s=between("stage:prior", "stage:optimize"),
        optimize_s=between("stage:optimize", "last_progress"),
        finish_s=between("last_progress", protocol.DONE),
        mesh=done["mesh"] if done else None,
        faces=int(done["faces"]) if done and "faces" in done else None,
        losses=losses,
        phase_s=(done or last.get(protocol.PROGRESS) or {}).get("phase_s"),
        peak_memory=done.get("peak_memory") if done else None,
        refine_s=between("stage:refine", "stage:bake"),
    )


def warm_prior_cache(request: EngineRequest) -> float:
    """Build the text-only procedural prior's image sets this run will load, so its timing is not a first-run's;
    seconds taken (0 for the other priors: the camera-conditioned one bakes its scene inside the run, timed).

    The config comes from the engine's own argument parsing, so the cache key is the run's.
    """
    import torch

    from engine.guidance.procedural_text import TextProceduralPrior

    started = time.perf_counter()
    args = build_parser("generate").parse_args(request.argv(Path("unused")))
    config = build_config(args)
    if config.guidance.prior != TextProceduralPrior.name:
        return 0.0
    prior = TextProceduralPrior.from_run_config(config, torch.device("cpu"), args.cache_dir or default_cache_dir())
    prior.set_prompt(config.prompt, config.guidance.negative_prompt, ())
    return time.perf_counter() - started
