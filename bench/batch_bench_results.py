"""The batch benchmark's results: its payload (each executor's batch time, Ray's fixed cost and overhead per task)
and its report section.

bench/batch_bench.py runs the batches and writes this payload; the report reads it here without the runner (which
needs Ray).
"""

from __future__ import annotations

from dataclasses import dataclass

from .payload import Measured, Payload
from .report_page import Page, num, table


@dataclass
class ExecutorTimes:
    """One executor's batch: medians over the repeats, and the last repeat's engine seconds per prompt."""

    wall_s: float
    engine_s_sum: float
    engine_s: list[float]


@dataclass
class BatchPayload(Payload):
    """batch_bench.json."""

    prompts: list[str]
    steps: int
    repeats: int
    settings: list[str]  # the engine flags every prompt ran with
    cpus: int
    load_before: list[float]  # 1, 5 and 15 minute load averages when it began
    load_after: list[float]
    executors: dict[str, ExecutorTimes]  # "local", "ray local"
    ray_start_s: float
    ray_side_by_side: int
    ray_overhead_per_task_s: float
    ray_own_time_per_task_s: float


def batch_section(page: Page, measured: Measured[BatchPayload]) -> None:
    data = measured.payload
    local, ray, tasks = data.executors["local"], data.executors["ray local"], len(data.prompts)
    page.add(
        f"`engine batch` of {tasks} prompts ({', '.join(data.prompts)}), {data.steps} steps each, "
        f"{data.cpus} CPUs, 1-minute load average {data.load_before[0]:.2f} when it began and "
        f"{data.load_after[0]:.2f} when it ended (other work shared the machine; from "
        f"`bench/batch_bench.py`, median of {data.repeats}). The local executor runs one prompt at a time; "
        "`--ray local` starts a Ray runtime here and runs each prompt as a task asking for one CPU."
    )
    rows = [
        [name, num(times.wall_s, 1), num(times.engine_s_sum, 1), num(times.wall_s / tasks, 1)]
        for name, times in data.executors.items()
    ]
    page.add(*table(["executor", "batch (s)", "engine runs, summed (s)", "per prompt (s)"], rows))
    page.add(
        f"Ray overhead per task: {data.ray_overhead_per_task_s:+.1f} s net ((Ray batch - local batch) / {tasks}: "
        f"{ray.wall_s:.1f} s against {local.wall_s:.1f} s, with {data.ray_side_by_side} tasks side by "
        f"side, each engine run slower for sharing the cores); Ray's own time {data.ray_own_time_per_task_s:.1f} s "
        f"per task (Ray batch - engine seconds / {data.ray_side_by_side}, divided by {tasks}). Starting and "
        f"stopping the local Ray runtime alone takes {data.ray_start_s:.1f} s, once per batch."
    )
