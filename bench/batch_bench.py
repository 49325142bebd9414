"""The same batch of short prompts through ``engine batch`` with the local executor and with ``--ray local``.

    .venv/bin/python -m bench.batch_bench [--steps 100] [--repeats 1]

Each batch is the real command in its own process (``python -m engine batch PROMPTS --out DIR``), timed
from start to exit, into a fresh folder; the ledger gives each prompt's engine seconds. Ray's fixed cost
(starting a local runtime with the engine folder as its working directory, and shutting it down) is timed
apart, through the executor itself with no task. Two figures per task: the net difference, (Ray batch time -
local batch time) / prompts, what going through Ray costs or saves per prompt here (Ray runs one task per
CPU side by side); and Ray's own time, (Ray batch time - engine seconds / tasks side by side) / prompts, the
time a task spends in Ray rather than in its engine process, assuming the side-by-side runs overlap fully.
Prints a table and writes bench/results/batch_bench.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.batch.ledger import PromptStatus, read_ledger
from engine.batch.ray_executor import RayExecutor

from .batch_bench_results import BatchPayload
from .results_file import BATCH, RESULTS_DIR, Envelope, Results, write_results

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ("a red cube", "a blue sphere", "a green cone", "a yellow duck")
EXECUTORS = {"local": (), "ray local": ("--ray", "local")}
# Short runs: the fast preset at 64 px, a 64^3 mesh, one turntable frame, no previews.
SHORT = [
    "--preset", "fast", "--set", "render.resolution=64", "--set", "mesh.grid_resolution=64",
    "--set", "turntable_frames=1", "--set", "preview_every=0",
]  # fmt: skip


def run_batch(prompts: Path, out: Path, steps: int, executor: tuple[str, ...]) -> dict:
    """One batch in its own process: its wall time and what its ledger says of each prompt."""
    command = [sys.executable, "-m", "engine", "batch", str(prompts), "--out", str(out), "--steps", str(steps)]
    started = time.perf_counter()
    result = subprocess.run([*command, *SHORT, *executor], cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    records = read_ledger(out)
    if result.returncode != 0 or any(r.status is not PromptStatus.DONE for r in records):
        raise SystemExit(f"the batch did not finish ({result.returncode}): {result.stderr[-2000:]}")
    return {"wall_s": wall, "engine_s": [r.seconds for r in records]}


def ray_start_seconds(batch_dir: Path) -> float:
    """A local Ray runtime started and shut down by the executor, with no task."""
    started = time.perf_counter()
    RayExecutor("local", batch_dir).close()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="optimization steps per prompt")
    parser.add_argument("--repeats", type=int, default=1, help="batches per executor (the median is reported)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {name: [] for name in EXECUTORS}
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as scratch:
        prompts = Path(scratch) / "prompts.txt"
        prompts.write_text("\n".join(PROMPTS) + "\n")
        for repeat in range(args.repeats):
            for name, flags in EXECUTORS.items():
                out = Path(scratch) / f"{name.replace(' ', '-')}-{repeat}"
                runs[name].append(run_batch(prompts, out, args.steps, flags))
        ray_start = ray_start_seconds(Path(scratch) / "ray-start")

    summary = {
        name: {
            "wall_s": statistics.median(r["wall_s"] for r in results),
            "engine_s_sum": statistics.median(sum(r["engine_s"]) for r in results),
            "engine_s": results[-1]["engine_s"],
        }
        for name, results in runs.items()
    }
    ray = summary["ray local"]
    side_by_side = min(os.cpu_count() or 1, len(PROMPTS))  # Ray's local runtime has one CPU slot per core
    overhead = (ray["wall_s"] - summary["local"]["wall_s"]) / len(PROMPTS)
    ray_own = (ray["wall_s"] - ray["engine_s_sum"] / side_by_side) / len(PROMPTS)
    result = {
        "prompts": list(PROMPTS),
        "steps": args.steps,
        "repeats": args.repeats,
        "settings": SHORT,
        "cpus": os.cpu_count(),
        "load_before": list(load_before),  # 1, 5 and 15 minute load averages when it began
        "load_after": list(os.getloadavg()),
        "executors": summary,
        "ray_start_s": ray_start,
        "ray_side_by_side": side_by_side,
        "ray_overhead_per_task_s": overhead,
        "ray_own_time_per_task_s": ray_own,
    }
    print(f"engine batch of {len(PROMPTS)} prompts, {args.steps} steps each, {os.cpu_count()} CPUs")
    print(f"{'executor':<12}{'batch s':>10}{'engine s (sum)':>16}")
    for name, values in summary.items():
        print(f"{name:<12}{values['wall_s']:>10.1f}{values['engine_s_sum']:>16.1f}")
    print(f"Ray runtime start + shutdown: {ray_start:.1f} s")
    print(f"per task: net {overhead:+.1f} s, Ray's own time {ray_own:.1f} s")
    path = args.results / BATCH.name
    payload = BatchPayload.from_json(result, path)
    print(f"wrote {write_results(path, Results(Envelope.now(BATCH.kind), payload.to_json()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
