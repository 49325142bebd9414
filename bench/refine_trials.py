"""Mesh refinement measured on a finished run without training it again: its stored density grid re-extracted
with refinement (engine/refinement/refine.py) under the run's own prior, into another folder, and scored against the
prompt's ground truth as ``bench quality`` scores (IoU, surface accuracy, F-scores).

    python -m bench.refine_trials RUN_DIR OUT_DIR [--set mesh.refine.steps=200 ...]

Writes OUT_DIR/scores.json and prints one table row (bench/results/surface-trials.md, "Mesh refinement").
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from engine.config import RunConfig, from_dict, override
from engine.generation import prepare_prior
from engine.mesh.density_grid import GRID_FILE
from engine.mesh.pipeline import remesh_run
from engine.metrics import compare, load_mesh
from engine.procedural.ground_truth import scene_mesh
from engine.procedural.scene import Scene
from engine.refinement.refine import MeshRefiner
from engine.registry import PRIORS, resolve
from engine.stage_progress import no_progress

TRUTH_RESOLUTION = 128  # as bench/quality.py's settings
IOU_RESOLUTION = 96
SURFACE_SAMPLES = 20_000


def refine_copy(run_dir: Path, out_dir: Path, settings: dict[str, object]) -> tuple[RunConfig, float]:
    """``run_dir``'s grid remeshed into ``out_dir`` with ``settings`` over its config; (config, seconds)."""
    config = from_dict(RunConfig, json.loads((run_dir / "config.json").read_text()))
    override(config, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(run_dir / GRID_FILE, out_dir / GRID_FILE)
    (out_dir / "config.json").write_text(json.dumps(json.loads((run_dir / "config.json").read_text())))
    device = torch.device("cpu")
    prior_class = resolve(PRIORS, config.guidance.prior, "prior")
    prior = prepare_prior(config, prior_class, device, Path(".cache"), no_progress)
    started = time.perf_counter()
    refine = MeshRefiner(config, prior, device) if config.mesh.refine.steps else None
    remesh_run(out_dir, None, config.mesh, refine=refine)
    return config, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--set", nargs="*", default=[], help="dotted.key=JSON over the run's config")
    args = parser.parse_args()
    settings = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    torch.set_num_threads(1)
    config, seconds = refine_copy(args.run_dir, args.out_dir, settings)
    scene = Scene.from_prompt(config.prompt)
    result = compare(
        load_mesh(args.out_dir / "mesh.npz"),
        scene,
        scene_mesh(scene, TRUTH_RESOLUTION),
        resolution=IOU_RESOLUTION,
        samples=SURFACE_SAMPLES,
    )
    surface = result.surface
    within = " / ".join(f"{100 * share:.0f}" for share in surface.within_deg.values())
    fscores = " / ".join(f"{score.fscore:.2f}" for score in surface.fscores)
    row = f"| {' '.join(args.set) or 'off'} | {result.iou:.3f} | {within}% | {surface.median_angle_deg:.1f} "
    row += f"| {fscores} | {seconds:.0f} s |"
    scores = {"settings": settings, "iou": result.iou, "within_deg": surface.within_deg, "row": row}
    scores |= {"median_angle_deg": surface.median_angle_deg, "fscores": [s.fscore for s in surface.fscores]}
    (args.out_dir / "scores.json").write_text(json.dumps(scores, indent=1))
    print(row)


if __name__ == "__main__":
    main()
