"""The report's figures (matplotlib, written as PNG): loss curves, IoU per prompt, ablations, it/s per preset.

Each function takes the numbers to draw (the report sections pick them from their payloads) and returns the
PNG it wrote, or None when there is nothing to draw.
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


def loss_curves(curves: dict[str, list[tuple[int, float]]], path: Path) -> Path | None:
    """``curves``: each prompt's (step, loss) pairs."""
    curves = {prompt: losses for prompt, losses in curves.items() if losses}
    if not curves:
        return None
    figure, axis = plt.subplots(figsize=(9, 5))
    for prompt, pairs in curves.items():
        steps, losses = np.array(pairs, dtype=float).T
        smooth = _smoothed(losses)
        axis.plot(steps[len(steps) - len(smooth) :], smooth, label=prompt, linewidth=1)
    positive = all(loss > 0 for pairs in curves.values() for _, loss in pairs)
    axis.set_yscale("log" if positive else "symlog")
    axis.set_xlabel("step")
    axis.set_ylabel("loss (running mean)")
    axis.set_title("Training loss per prompt")
    axis.legend(fontsize=7, ncol=2)
    return _save(figure, path)


def iou_per_prompt(runs: list[tuple[str, str, float]], path: Path) -> Path | None:
    """``runs``: (prompt, category, IoU) of each scored run."""
    if not runs:
        return None
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(runs) + 1.2))
    colors = [_CATEGORY_COLORS.get(category, "tab:gray") for _, category, _ in runs]
    axis.barh([prompt for prompt, _, _ in runs], [iou for _, _, iou in runs], color=colors)
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("volumetric IoU with the ground truth")
    axis.set_title("IoU per prompt (color: category)")
    return _save(figure, path)


def ablation_iou(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Mean IoU change per ablation (``rows`` from quality_results.ablation_rows)."""
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


def it_per_s_per_preset(rates: dict[str, float], cores: int | None, path: Path) -> Path | None:
    """``rates``: it/s per preset; ``cores``: the measuring machine's (from its envelope)."""
    if not rates:
        return None
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.bar(list(rates), list(rates.values()), color="tab:blue")
    axis.set_ylabel("iterations per second")
    axis.set_title(f"CPU optimization speed per preset ({cores} cores)")
    return _save(figure, path)
