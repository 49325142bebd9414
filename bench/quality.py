"""Quality of procedural-prior runs against ground truth: IoU, Chamfer (and before decimation), normal consistency,
surface accuracy (normal angles, F-score), albedo error, front check, time.

Each prompt runs ``python -m engine generate`` in its own process (bench/engine_run.py), then its
mesh is compared with the prompt's ground-truth scene (engine/metrics.py) and a turntable strip of
result beside truth is written. Ablations rerun the fronted prompts with one thing of the paper's
method taken away, over one seed or several. ``jobs`` runs that many engines side by side (each on one
torch thread), so a 2-core machine measures the suite in half the time without merging shards by hand.
Results are rewritten after every run, so an interrupted suite keeps what it measured.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import EngineError

from .engine_run import ROOT, run_engine, warm_prior_cache
from .payload import Measured, read_payload
from .quality_results import (
    BASELINE,
    FrontResult,
    FScore,
    QualityPayload,
    QualityResult,
    QualitySettings,
    Surface,
)
from .results_file import QUALITY, Envelope, Results, ResultsFile, command_line, write_results
from .suite import Ablation, SuiteEntry, check_prompts


@dataclass(frozen=True)
class QualityTask:
    """One run of a suite: a prompt, a variant of the method (its config overrides) and a seed."""

    prompt: str
    category: str
    variant: str  # "baseline" or an ablation's name
    overrides: tuple[tuple[str, Any], ...]
    seed: int


def front_verdict(fronts: list[str], untested: list[str], directions: int = 4) -> str:
    """Janus is a front in several but not all directions; filled all round is a blob, not a face."""
    if not fronts:
        return "none"
    if len(fronts) == 1:
        return "ok" if fronts == ["-Y"] else "turned"
    return "all round" if len(fronts) == directions - len(untested) else "janus"


def undecimated_mesh(run_dir: Path) -> Any:
    """The run's surface as its export made it, without the face budget (what decimation is measured against)."""
    from engine.mesh.bake import vertex_albedo
    from engine.mesh.density_grid import GRID_FILE, load_grid, surface_level
    from engine.mesh.file_format import MeshData
    from engine.mesh.pipeline import load_mesh_config, lowest_camera_elevation, surface_mesh

    grid = load_grid(run_dir / GRID_FILE)
    config = dataclasses.replace(load_mesh_config(run_dir), face_budget=None)
    level = surface_level(grid) if config.threshold is None else config.threshold
    vertices, faces, _ = surface_mesh(grid, level, config, lowest_camera_elevation(run_dir))
    return MeshData(vertices, faces, vertex_albedo(grid, vertices))


def surface_of(surface: Any) -> Surface:
    """A SurfaceAccuracy (engine/metrics.py) as the results file holds it: angles as keys "2", "5", "10"."""
    return Surface(
        within_deg={f"{angle:g}": share for angle, share in surface.within_deg.items()},
        median_angle_deg=surface.median_angle_deg,
        fscores=[FScore(f.tau, f.precision, f.recall, f.fscore) for f in surface.fscores],
    )


def surface_text(surface: Surface | None) -> str:
    """The share within 5 degrees, the median angle and the F-scores of a result's ``surface``, in a line."""
    if surface is None:
        return "surface -"
    scores = "/".join(f"{f.fscore:.2f}" for f in surface.fscores)
    return f"within 5 deg {surface.within_deg['5']:.0%}  median {surface.median_angle_deg:.1f} deg  F {scores}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class QualityBench:
    """Runs entries (and ablations) and keeps the results file in ``results_dir`` up to date.

    ``results_file`` names what the runs measure (the suite, or an ablation study); strips go under
    ``strips/`` for the suite and ``strips/<kind>/`` otherwise, so two studies never overwrite each other's.
    """

    def __init__(
        self,
        settings: QualitySettings,
        results_dir: Path,
        work_dir: Path,
        results_file: ResultsFile = QUALITY,
        append: bool = False,
    ) -> None:
        """With ``append`` the runs are added to the results file already there, which must have been measured
        with the same settings (a run of the same prompt, variant and seed replaces the earlier one)."""
        self.settings = settings
        self.results_dir = results_dir
        self.work_dir = work_dir
        self.results_file = results_file
        self.strips_dir = results_dir / "strips" / ("" if results_file == QUALITY else results_file.kind)
        self.results: list[QualityResult] = []
        self.ablations: tuple[Ablation, ...] = ()
        self.seeds: tuple[int, ...] = (settings.seed,)
        self._truths: dict[str, Any] = {}  # ground-truth meshes by canonical prompt
        self._truth_frames: dict[str, Any] = {}  # ground-truth turntables by turntable_strip.truth_key
        self._truth_lock = threading.Lock()  # one thread computes a truth, the others wait for it
        self._cache_lock = threading.Lock()  # one image-set build at a time (two runs may want the same one)
        self.earlier = self._earlier_results() if append else None
        self.rescored = False  # the meshes were re-extracted by ``rescore`` after the runs

    def tasks(
        self,
        entries: tuple[SuiteEntry, ...],
        ablations: tuple[Ablation, ...],
        ablation_prompts: list[str],
        baselines: bool = True,
        seeds: tuple[int, ...] | None = None,
    ) -> list[QualityTask]:
        """Per seed: every entry's baseline, then each ablation of each ablation prompt (with the prompt's baseline
        if it has none yet). Without ``baselines`` only the ablations run: a shard of a run whose baselines another
        shard measures (the same settings give the same baseline on a CPU)."""
        categories = {e.prompt: e.category for e in entries}
        tasks: list[QualityTask] = []
        for seed in seeds or (self.settings.seed,):
            planned = [(e.prompt, e.category, BASELINE, ()) for e in entries] if baselines else []
            for prompt in ablation_prompts if ablations else []:
                category = categories.get(prompt, "fronted")
                if baselines and not any(p == prompt and v == BASELINE for p, _, v, _ in planned):
                    planned.append((prompt, category, BASELINE, ()))
                planned += [(prompt, category, a.name, a.overrides) for a in ablations]
            tasks += [QualityTask(*run, seed=seed) for run in planned]
        return tasks

    def run(
        self,
        entries: tuple[SuiteEntry, ...],
        ablations: tuple[Ablation, ...],
        ablation_prompts: list[str],
        baselines: bool = True,
        seeds: tuple[int, ...] | None = None,
        jobs: int = 1,
    ) -> Path:
        """Measure ``tasks(...)``, ``jobs`` at a time; the results file lists them in task order."""
        check_prompts([e.prompt for e in entries] + list(ablation_prompts))
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {jobs}")
        self.ablations = ablations
        self.seeds = tuple(seeds or (self.settings.seed,))
        tasks = self.tasks(entries, ablations, ablation_prompts, baselines, self.seeds)
        return self._measure_all(self._measure, tasks, jobs)

    def rescore(self, jobs: int = 1) -> Path:
        """Re-extract every run of the results file there from its stored density grid with this tree's mesh
        export (``python -m engine remesh``), and score it again; the optimization and its timings are the earlier
        run's. For a change of the export alone, this measures what a new run would give without retraining."""
        if self.earlier is None:
            raise ValueError("rescore needs the earlier results: build the bench with append=True")
        earlier = [r for r in self.earlier.payload.results if r.error is None]
        self.seeds = tuple(self.earlier.payload.seeds)
        self.rescored = True
        return self._measure_all(self._rescore_one, earlier, jobs)

    def _measure_all(self, measure: Callable[[Any], QualityResult], items: list[Any], jobs: int) -> Path:
        """``measure`` of every item, ``jobs`` at a time; results are written after each, in the items' order."""
        measured: list[tuple[int, QualityResult]] = []
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(measure, item): index for index, item in enumerate(items)}
            for future in as_completed(futures):  # collected on this thread only
                result = future.result()
                measured = sorted([*measured, (futures[future], result)], key=lambda pair: pair[0])
                self.results = [r for _, r in measured]
                self._print(result)
                self._write(complete=False)
        return self._write(complete=True)

    def _rescore_one(self, earlier: QualityResult) -> QualityResult:
        from engine.metrics import load_mesh
        from engine.procedural.scene import Scene

        record = replace(earlier.run)
        run_dir = Path(record.run_dir)
        remeshed = subprocess.run(
            [sys.executable, "-m", "engine", "remesh", str(run_dir)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        result = QualityResult(earlier.prompt, earlier.category, earlier.variant, record, earlier.seed)
        if remeshed.returncode != 0:
            result.error = f"remesh failed: {remeshed.stderr.strip()[-500:]}"
            return result
        mesh = run_dir / "mesh.npz"
        record.faces = len(load_mesh(mesh).faces)
        scene = Scene.from_prompt(result.prompt)
        self._score(result, scene, mesh)
        task = QualityTask(result.prompt, result.category, result.variant, (), result.seed)
        self._strip(result, scene, run_dir, self._name(task))
        return result

    def _name(self, task: QualityTask) -> str:
        """A run's folder and strip name: the seed is named when the study has several."""
        name = f"{slug(task.prompt)}--{task.variant}"
        return name if self.seeds == (self.settings.seed,) else f"{name}--seed-{task.seed}"

    def _measure(self, task: QualityTask) -> QualityResult:
        """One run, scored; called on a worker thread (the engine is its own process)."""
        from engine.procedural.scene import Scene

        request = self.settings.request(task.prompt, task.overrides, task.seed)
        with self._cache_lock:
            warm_prior_cache(request)
        run_dir = self.work_dir / self._name(task)
        if run_dir.exists():
            shutil.rmtree(run_dir)  # a scratch folder of an earlier benchmark run
        record = run_engine(request, run_dir)
        result = QualityResult(task.prompt, task.category, task.variant, record, seed=task.seed)
        if record.ok and record.mesh is not None:
            scene = Scene.from_prompt(task.prompt)
            self._score(result, scene, Path(record.mesh))
            self._strip(result, scene, run_dir, self._name(task))
        else:
            result.error = record.error
        return result

    def _score(self, result: QualityResult, scene: Any, mesh_path: Path) -> None:
        from engine.metrics import chamfer_distance, compare, load_mesh, sample_surface
        from engine.procedural.ground_truth import scene_mesh

        started = time.perf_counter()
        key = scene.spec.text
        with self._truth_lock:
            if key not in self._truths:
                self._truths[key] = scene_mesh(scene, self.settings.truth_resolution)
        comparison = compare(
            load_mesh(mesh_path),
            scene,
            self._truths[key],
            resolution=self.settings.iou_resolution,
            samples=self.settings.surface_samples,
            seed=self.settings.seed,
        )
        result.iou, result.chamfer, result.albedo_error = comparison.iou, comparison.chamfer, comparison.albedo_error
        result.normal_consistency = comparison.normal_consistency
        result.surface = surface_of(comparison.surface)
        undecimated = undecimated_mesh(mesh_path.parent)
        rng = np.random.default_rng(self.settings.seed)
        points = [sample_surface(m, self.settings.surface_samples, rng)[0] for m in (undecimated, self._truths[key])]
        result.undecimated_faces = len(undecimated.faces)
        result.undecimated_chamfer = chamfer_distance(*points)
        result.fronts = [
            FrontResult(c.shape, c.fronts, c.untested, c.ok, front_verdict(c.fronts, c.untested), c.marker_albedo_error)
            for c in comparison.fronts
        ]
        if result.fronts:
            result.front_ok = all(f.ok for f in result.fronts)
            result.janus = any(f.verdict == "janus" for f in result.fronts)
        result.metrics_s = round(time.perf_counter() - started, 3)

    def _strip(self, result: QualityResult, scene: Any, run_dir: Path, name: str) -> None:
        from .turntable_strip import compose_strip, run_config, truth_frames, truth_key, write_truth_turntable

        config = run_config(run_dir)
        key = truth_key(scene, config)
        with self._truth_lock:
            if key not in self._truth_frames:
                self._truth_frames[key] = truth_frames(scene, config)
        write_truth_turntable(run_dir, self._truth_frames[key])
        seed = f", seed {result.seed}" if len(self.seeds) > 1 else ""
        title = f"{result.prompt} [{result.variant}{seed}]  IoU {result.iou:.3f}"
        out = self.strips_dir / f"{name}.png"
        result.strip = compose_strip(run_dir, out, title).relative_to(self.results_dir).as_posix()

    def _earlier_results(self) -> Measured[QualityPayload]:
        path = self.results_dir / self.results_file.name
        earlier = read_payload(path, self.results_file, QualityPayload)
        if earlier is None:
            raise EngineError(f"nothing to append to: {path} does not exist", "input")
        there, here = earlier.payload.settings, self.settings
        differing = {
            f.name: (getattr(there, f.name), getattr(here, f.name))
            for f in dataclasses.fields(QualitySettings)
            if getattr(there, f.name) != getattr(here, f.name)
        }
        if differing:
            shown = "; ".join(f"{key}: {old!r} there, {new!r} here" for key, (old, new) in differing.items())
            raise EngineError(f"{path} was measured with other settings ({shown}); append only like to like", "input")
        return earlier

    def _write(self, complete: bool) -> Path:
        seeds, ablations, results = list(self.seeds), list(self.ablations), list(self.results)
        rescored, envelope = self.rescored, Envelope.now(self.results_file.kind)
        if self.earlier is not None:
            earlier = self.earlier.payload
            measured = {(r.prompt, r.variant, r.seed) for r in results}
            results = [r for r in earlier.results if (r.prompt, r.variant, r.seed) not in measured] + results
            names = {a.name for a in earlier.ablations}
            ablations = earlier.ablations + [a for a in ablations if a.name not in names]
            seeds = list(dict.fromkeys([*earlier.seeds, *seeds]))
            complete, rescored = complete and earlier.complete, rescored or earlier.rescored
            command = f"{self.earlier.envelope.command}  +  {command_line()}"
            envelope = replace(envelope, command=command, machine=self.earlier.envelope.machine.then(envelope.machine))
        payload = QualityPayload(complete, self.settings, seeds, ablations, results, rescored)
        return write_results(self.results_dir / self.results_file.name, Results(envelope, payload.to_json()))

    @staticmethod
    def _print(r: QualityResult) -> None:
        run = f"{r.prompt:42} {r.variant:16} seed {r.seed:<3}"
        if r.error is not None:
            print(f"{run} FAILED: {r.error}", flush=True)
            return
        front = {None: "-", True: "ok", False: "WRONG"}[r.front_ok]
        print(
            f"{run} IoU {r.iou:.3f}  chamfer {r.chamfer:.4f}"
            f" (undecimated {r.undecimated_chamfer:.4f})  "
            f"NC {r.normal_consistency:.3f}  {surface_text(r.surface)}  albedo {r.albedo_error:.3f}  "
            f"front {front:5}  {r.run.it_per_s or 0:.2f} it/s  {r.run.wall_s:.0f} s  {r.run.peak_rss_mib:.0f} MiB",
            flush=True,
        )
