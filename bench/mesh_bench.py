"""Mesh extraction and albedo bake speed on analytic fields at the default 256^3 grid.

Targets (on 2 cores, bench/targets.py): extraction plus vertex bake of the engine's default grid (256^3), and a
bake of its default texture size (1024x1024), each under a bar. "Extraction plus vertex bake" is a whole
``remesh_run`` from the stored grid (load, threshold, marching cubes, face budget, clean-up, smoothing, bake, files
written): what a user waits for after dragging the threshold. Sampling the field is timed apart (it depends on
the field). Each case runs in a fresh process so its peak memory (max RSS) is its own.

    .venv/bin/python -m bench.mesh_bench
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.config import MeshConfig
from engine.mesh.density_grid import GRID_FILE, sample_field, save_grid
from engine.mesh.pipeline import remesh_run

from .mesh_bench_results import MeshPayload
from .results_file import MESH, RESULTS_DIR, Envelope, Results, write_results
from .targets import ENGINE_MESH, target

RESOLUTION = ENGINE_MESH.grid_resolution
TEXTURE_SIZE = ENGINE_MESH.texture_size
REMESH_TOTAL = target("remesh-total")  # judged on total_s of the vertex bake
TEXTURE_BAKE = target("texture-bake")  # judged on bake_s of the uv bake


def _ramp(signed_distance: np.ndarray) -> np.ndarray:
    """Density like a trained grid field's: 0 outside, 50 inside, a 3 cm ramp between."""
    return (50.0 * np.clip(0.5 - signed_distance / 0.03, 0.0, 1.0)).astype(np.float32)


def sphere(points: np.ndarray) -> np.ndarray:
    return _ramp(np.linalg.norm(points, axis=1) - 0.7)


def composite(points: np.ndarray) -> np.ndarray:
    """A body, a box-shaped base and a torus handle: more surface, several curvatures."""
    body = np.linalg.norm(points - [0.0, 0.0, 0.15], axis=1) - 0.45
    q = np.abs(points - [0.0, 0.0, -0.45]) - [0.5, 0.4, 0.12]
    base = np.linalg.norm(np.maximum(q, 0.0), axis=1) + np.minimum(q.max(axis=1), 0.0)
    ring = np.stack([np.hypot(points[:, 0] - 0.55, points[:, 2] - 0.15) - 0.2, points[:, 1]], axis=1)
    handle = np.linalg.norm(ring, axis=1) - 0.06
    return _ramp(np.minimum(np.minimum(body, base), handle))


def albedo(points: np.ndarray) -> np.ndarray:
    return np.clip(0.5 + 0.4 * np.sin(4.0 * points), 0.0, 1.0).astype(np.float32)


FIELDS = {"sphere": sphere, "composite": composite}


def _timed_remesh(run_dir: Path, config: MeshConfig) -> dict[str, float]:
    marks: list[tuple[str, float, float]] = []
    started = time.perf_counter()
    result = remesh_run(run_dir, None, config, lambda stage, f: marks.append((stage, f, time.perf_counter())))
    total = time.perf_counter() - started

    def stage_end(name: str) -> float:
        return max(t for stage, _, t in marks if stage == name)

    def stage_start(name: str) -> float:
        return min(t for stage, _, t in marks if stage == name)

    return {
        "total_s": total,
        "mesh_s": stage_end("mesh") - started,
        "bake_s": stage_end("bake") - stage_start("bake"),
        "export_s": stage_end("export") - stage_start("export"),
        "vertices": result.vertices,
        "faces": result.faces,
        "threshold": result.threshold,
    }


def run_case(field_name: str, bake: str, run_dir: str) -> dict[str, object]:
    """One case in this (fresh) process: sample the field if the grid is not there yet, then remesh."""
    folder = Path(run_dir)
    row: dict[str, object] = {"field": field_name, "bake": bake}
    if not (folder / GRID_FILE).exists():
        started = time.perf_counter()
        grid = sample_field(FIELDS[field_name], albedo, RESOLUTION, 1.0)
        save_grid(folder / GRID_FILE, grid)
        row["sample_and_store_s"] = time.perf_counter() - started
    config = MeshConfig(grid_resolution=RESOLUTION, bake=bake, texture_size=TEXTURE_SIZE)
    row.update(_timed_remesh(folder, config))
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return row


def main() -> None:
    context = multiprocessing.get_context("spawn")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for field_name in FIELDS:
            run_dir = Path(scratch) / field_name
            run_dir.mkdir()
            for bake in ("vertex", "uv"):
                with context.Pool(1) as pool:
                    rows.append(pool.apply(run_case, (field_name, bake, str(run_dir))))
    for row in rows:
        bar = REMESH_TOTAL if row["bake"] == "vertex" else TEXTURE_BAKE
        measured = row["total_s"] if row["bake"] == "vertex" else row["bake_s"]
        row["limit_s"], row["within_limit"] = bar.threshold, bar.met(measured)
    envelope = Envelope.now(MESH.kind)
    path = RESULTS_DIR / MESH.name
    payload = MeshPayload.from_json({"resolution": RESOLUTION, "texture_size": TEXTURE_SIZE, "rows": rows}, path)
    out = write_results(path, Results(envelope, payload.to_json()))
    header = f"{'field':10} {'bake':6} {'sample':>7} {'mesh':>6} {'bake':>6} {'write':>6} {'total':>6} "
    header += f"{'faces':>7} {'thresh':>7} {'peakMB':>7}  target"
    print(f"mesh bench: {RESOLUTION}^3 grid, {TEXTURE_SIZE}^2 texture, {envelope.machine.cores} cores (seconds)")
    print(header)
    for row in rows:
        target = "remesh total" if row["bake"] == "vertex" else "texture bake"
        verdict = "ok" if row["within_limit"] else "OVER"
        print(
            f"{row['field']:10} {row['bake']:6} {row.get('sample_and_store_s', float('nan')):7.2f} "
            f"{row['mesh_s']:6.2f} {row['bake_s']:6.2f} {row['export_s']:6.2f} {row['total_s']:6.2f} "
            f"{row['faces']:7d} {row['threshold']:7.2f} {row['peak_rss_mb']:7.0f}  "
            f"{target} <= {row['limit_s']:.0f} s: {verdict}"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
