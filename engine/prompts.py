"""View-dependent prompts (DreamFusion A.2): each render is scored against "PROMPT, {front|side|back|overhead}
view", chosen from its camera's angles, so the prior is asked for the side of the object it is shown."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .cameras import Cameras
from .config import CameraConfig, GuidanceConfig
from .shading import ShadingMode

VIEW_SUFFIXES = ("front", "side", "back", "overhead")


@dataclass(frozen=True)
class ViewContext:
    """What the guidance call knows about one rendered image.

    Learned priors use only ``suffix`` (the view-dependent prompt). The text-only procedural prior also
    compares like with like: the shading ``mode`` and the camera's angles. The camera-conditioned one is told
    the whole camera and the background the render was composited over.
    """

    suffix: str  # "front" | "side" | "back" | "overhead" | "" (no view-dependent prompt)
    mode: ShadingMode
    azimuth_deg: float
    elevation_deg: float
    camera: Cameras | None = None  # this render's camera (batch of one), with its light
    background: torch.Tensor | None = None  # (3,) the color the render was composited over


def view_suffix(azimuth_deg: float, elevation_deg: float, config: CameraConfig) -> str:
    """The view word for one camera: overhead above the threshold, else front / side / back."""
    if elevation_deg > config.overhead_elevation_deg:
        return "overhead"
    az = (azimuth_deg + 180.0) % 360.0 - 180.0
    if abs(az) <= config.front_half_angle_deg:
        return "front"
    if abs(az) >= 180.0 - config.front_half_angle_deg:
        return "back"
    return "side"


def view_prompt(prompt: str, suffix: str) -> str:
    """The paper's view-dependent prompt: 'a red cube, front view'."""
    return f"{prompt}, {suffix} view"


def run_suffixes(guidance: GuidanceConfig) -> tuple[str, ...]:
    """The suffixes a run's prior is conditioned on: every view word, or only the bare prompt ("")."""
    return VIEW_SUFFIXES if guidance.view_dependent_prompts else ("",)


def view_contexts(
    cameras: Cameras,
    mode: ShadingMode,
    camera: CameraConfig,
    guidance: GuidanceConfig,
    background: torch.Tensor | None = None,
) -> list[ViewContext]:
    """What the prior is told about each render of a batch: its view suffix, shading mode, angles, camera and
    background."""
    return [
        ViewContext(
            suffix=view_suffix(az, el, camera) if guidance.view_dependent_prompts else "",
            mode=mode,
            azimuth_deg=az,
            elevation_deg=el,
            camera=cameras[index],
            background=background,
        )
        for index, (az, el) in enumerate(zip(cameras.azimuth.tolist(), cameras.elevation.tolist(), strict=True))
    ]
