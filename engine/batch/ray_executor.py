"""The ``ray`` executor: each prompt one Ray task, on a GPU where the cluster has them.

``--ray local`` starts a Ray runtime on this machine; ``--ray auto`` or ``--ray ADDRESS`` joins a running
cluster. The engine's folder travels to the workers as the job's working directory (the batch folder
left out when it lies inside), and every task writes its run folder under the batch folder, which on a
real cluster is a folder all machines share. Each task runs the engine with the worker's own Python (the
one its machine started Ray with, which has the engine's requirements), not the driver's path. A worker
that dies is retried by Ray (the retry resumes from the run's checkpoint). Stopping is a file,
``DIR/.stop``, that every task watches: it reaches tasks on every machine through the same shared folder.
A runtime of its own (``--ray local``) is watched by ``ray_reaper.py``, so a killed driver leaves no Ray agent
running on (Linux).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import ray

from ..errors import EngineError
from ..run_files import open_file
from .executor import OnEvent, OnOutcome
from .ledger import PromptStatus
from .prompt_run import ENGINE_ROOT, PromptJob, PromptOutcome, run_prompt
from .ray_reaper import DONE

STOP_FILE = ".stop"
WORKER_RETRIES = 2  # Ray re-runs a task whose worker process or machine died this many times
POLL_S = 0.5
# What the workers do not need of the engine's folder (the working directory Ray uploads).
UPLOAD_EXCLUDES = [".git", ".venv", ".cache", "bench", "tests", "docs", "output", "dist", "wheels", "*.blend"]


def stop_file(batch_dir: Path) -> Path:
    return Path(batch_dir) / STOP_FILE


def upload_excludes(batch_dir: Path) -> list[str]:
    """What Ray leaves out of the working directory it uploads: ours, and the batch folder if it lies inside."""
    try:
        inside = Path(batch_dir).resolve().relative_to(ENGINE_ROOT)
    except ValueError:
        return UPLOAD_EXCLUDES
    return [*UPLOAD_EXCLUDES, f"/{inside.as_posix()}/"] if inside.parts else UPLOAD_EXCLUDES


@ray.remote(max_retries=WORKER_RETRIES)
def _prompt_task(job: PromptJob, batch_dir: str) -> PromptOutcome:
    """Runs on a worker: the prompt's engine process, stopped when the batch's stop file appears."""
    stop = threading.Event()
    flag = stop_file(Path(batch_dir))

    def watch() -> None:
        while not stop.is_set():
            if flag.exists():
                stop.set()
            time.sleep(POLL_S)

    threading.Thread(target=watch, daemon=True).start()
    try:
        return run_prompt(replace(job, python=sys.executable), stop)
    finally:
        stop.set()


class RayExecutor:
    name = "ray"

    def __init__(self, address: str, batch_dir: Path) -> None:
        self.batch_dir = Path(batch_dir)
        runtime_env = {"working_dir": str(ENGINE_ROOT), "excludes": upload_excludes(self.batch_dir)}
        try:
            if address == "local":  # a new runtime here, even where RAY_ADDRESS names a cluster
                ray.init(address="local", include_dashboard=False, log_to_driver=False, runtime_env=runtime_env)
            else:
                ray.init(address=address, log_to_driver=False, runtime_env=runtime_env)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EngineError(f"cannot reach the Ray cluster at {address!r} ({exc})", "input") from exc
        self.reaper = _start_reaper() if address == "local" and sys.platform.startswith("linux") else None
        self.gpus = int(ray.cluster_resources().get("GPU", 0))

    def run(self, jobs: list[PromptJob], on_event: OnEvent, on_outcome: OnOutcome, stop: threading.Event) -> None:
        flag = stop_file(self.batch_dir)
        flag.unlink(missing_ok=True)
        options = {"num_gpus": 1, "num_cpus": 1} if self.gpus else {"num_cpus": 1}
        pending = {_prompt_task.options(**options).remote(job, str(self.batch_dir)): job for job in jobs}
        seen_steps: dict[int, int] = {}
        while pending:
            if stop.is_set() and not flag.exists():
                flag.touch()
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_S)
            for ref in ready:
                job = pending.pop(ref)
                on_outcome(job.index, self._outcome(ref, job))
            for job in pending.values():
                progress = last_progress(Path(job.run_dir))
                if progress is not None and progress.get("step") != seen_steps.get(job.index):
                    seen_steps[job.index] = progress.get("step", 0)
                    on_event(job.index, progress)
        flag.unlink(missing_ok=True)

    @staticmethod
    def _outcome(ref: ray.ObjectRef, job: PromptJob) -> PromptOutcome:
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as exc:  # the task failed past its retries (worker or machine lost)
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return PromptOutcome(PromptStatus.FAILED, 0.0, "", error=f"the Ray task failed: {first_line}", kind="crash")

    def close(self) -> None:
        if ray.is_initialized():
            ray.shutdown()
        if self.reaper is not None and self.reaper.stdin is not None:
            self.reaper.stdin.write(DONE + "\n")  # Ray is shut down: nothing for the reaper to end
            self.reaper.stdin.close()
            self.reaper.wait()


def _start_reaper() -> subprocess.Popen[str]:
    """The process that ends this driver's Ray agents if the driver is killed (ray_reaper.py)."""
    command = [sys.executable, "-m", "engine.batch.ray_reaper", str(os.getpid())]
    return subprocess.Popen(command, cwd=ENGINE_ROOT, stdin=subprocess.PIPE, text=True)


def last_progress(run_dir: Path) -> dict | None:
    """The last ``progress`` event a run wrote to its log.jsonl (how the driver follows remote tasks)."""
    log = run_dir / "log.jsonl"
    try:
        with open_file(log, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 4096))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if '"progress"' in line:
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None
