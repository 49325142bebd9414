"""View-dependent prompts: the view-suffix boundaries, the prompt text and a batch's view contexts."""

from __future__ import annotations

import pytest
import torch

from engine.cameras import orbit_cameras
from engine.config import CameraConfig, GuidanceConfig
from engine.prompts import VIEW_SUFFIXES, run_suffixes, view_contexts, view_prompt, view_suffix
from engine.shading import ShadingMode

CONFIG = CameraConfig()


@pytest.mark.parametrize(
    ("azimuth", "elevation", "expected"),
    [
        (0.0, 0.0, "front"),
        (45.0, 10.0, "front"),
        (-45.0, 10.0, "front"),
        (45.1, 10.0, "side"),
        (-90.0, 30.0, "side"),
        (134.9, 0.0, "side"),
        (135.0, 0.0, "back"),
        (180.0, 0.0, "back"),
        (-179.0, 0.0, "back"),
        (0.0, 60.0, "front"),
        (0.0, 60.1, "overhead"),
        (180.0, 89.0, "overhead"),
        (360.0, 0.0, "front"),
    ],
)
def test_view_suffix_boundaries(azimuth: float, elevation: float, expected: str) -> None:
    assert view_suffix(azimuth, elevation, CONFIG) == expected


def test_view_prompt() -> None:
    assert view_prompt("a red cube", "front") == "a red cube, front view"


def test_a_run_without_view_prompts_is_conditioned_on_the_bare_prompt_only() -> None:
    assert run_suffixes(GuidanceConfig()) == VIEW_SUFFIXES
    assert run_suffixes(GuidanceConfig(view_dependent_prompts=False)) == ("",)


def test_view_contexts_name_each_cameras_view() -> None:
    cameras = orbit_cameras(CONFIG, [0.0, 90.0, 180.0], elevation_deg=10.0)
    views = view_contexts(cameras, ShadingMode.TEXTURELESS, CONFIG, GuidanceConfig())
    assert [view.suffix for view in views] == ["front", "side", "back"]
    assert all(view.mode is ShadingMode.TEXTURELESS for view in views)
    assert [view.azimuth_deg for view in views] == pytest.approx([0.0, 90.0, 180.0])
    assert [view.elevation_deg for view in views] == pytest.approx([10.0] * 3)
    overhead = orbit_cameras(CONFIG, [0.0], elevation_deg=75.0)
    assert view_contexts(overhead, ShadingMode.AMBIENT, CONFIG, GuidanceConfig())[0].suffix == "overhead"
    bare = view_contexts(cameras, ShadingMode.COLORED, CONFIG, GuidanceConfig(view_dependent_prompts=False))
    assert [view.suffix for view in bare] == ["", "", ""]
    assert torch.tensor([v.azimuth_deg for v in bare]).allclose(cameras.azimuth)
