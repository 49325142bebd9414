"""The report's figures (matplotlib, written as PNG): loss curves, IoU per prompt, ablations, it/s per preset.

Each function takes a results file's payload and returns the PNG it wrote, or None when the data
has nothing to draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from engine.atomic_write import replacing

_CATEGORY_COLORS = {"shape": "tab:blue", "fronted": "tab:orange", "composition": "tab:green", "custom": "tab:gray"}


def _save(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with replacing(path) as partial:
            figure.savefig(partial, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(figure)
    return path


def _smoothed(values: np.ndarray) -> np.ndarray:
    """A running mean over about a thirtieth of the run: SDS losses are noisy step to step."""
    window = max(1, len(values) // 30)
    return np.convolve(values, np.ones(window) / window, mode="valid") if window > 1 else values


def loss_curves(quality: dict[str, Any], path: Path) -> Path | None:
    runs = [r for r in quality["results"] if r["variant"] == "baseline" and r["run"]["losses"]]
    if not runs:
        return None
    figure, axis = plt.subplots(figsize=(9, 5))
    for r in runs:
        steps, losses = np.array(r["run"]["losses"], dtype=float).T
        smooth = _smoothed(losses)
        axis.plot(steps[len(steps) - len(smooth) :], smooth, label=r["prompt"], linewidth=1)
    positive = all(loss > 0 for r in runs for _, loss in r["run"]["losses"])
    axis.set_yscale("log" if positive else "symlog")
    axis.set_xlabel("step")
    axis.set_ylabel("loss (running mean)")
    axis.set_title("Training loss per prompt")
    axis.legend(fontsize=7, ncol=2)
    return _save(figure, path)


def iou_per_prompt(quality: dict[str, Any], path: Path) -> Path | None:
    runs = [r for r in quality["results"] if r["variant"] == "baseline" and r["iou"] is not None]
    if not runs:
        return None
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(runs) + 1.2))
    colors = [_CATEGORY_COLORS.get(r["category"], "tab:gray") for r in runs]
    axis.barh([r["prompt"] for r in runs], [r["iou"] for r in runs], color=colors)
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("volumetric IoU with the ground truth")
    axis.set_title("IoU per prompt (color: category)")
    return _save(figure, path)


def ablation_iou(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Mean IoU change per ablation (``rows`` from report.ablation_rows)."""
    rows = [r for r in rows if r["mean_delta_iou"] is not None]
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(8, 0.4 * len(rows) + 1.2))
    deltas = [r["mean_delta_iou"] for r in rows]
    axis.barh([r["name"] for r in rows], deltas, color=["tab:red" if d < 0 else "tab:green" for d in deltas])
    axis.axvline(0.0, color="black", linewidth=0.8)
    axis.invert_yaxis()
    axis.set_xlabel("mean IoU change against the full method")
    axis.set_title("Ablations")
    return _save(figure, path)


def it_per_s_per_preset(speed: dict[str, Any], cores: int | None, path: Path) -> Path | None:
    """``speed`` is the speed payload; ``cores`` the measuring machine's (from its envelope)."""
    rows = [r for r in speed["rows"] if r["run"]["it_per_s"] is not None]
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.bar([r["preset"] for r in rows], [r["run"]["it_per_s"] for r in rows], color="tab:blue")
    axis.set_ylabel("iterations per second")
    axis.set_title(f"CPU optimization speed per preset ({cores} cores)")
    return _save(figure, path)
