"""The installed extension drives the real engine (procedural prior, a few CPU steps) end to end."""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.addon.addon_harness import PACKAGE, assert_process_gone, configure, preferences, pump_until, run_to_end, runs

pytestmark = pytest.mark.slow

STEPS = 10


def test_generate_with_the_procedural_prior(addon) -> None:
    configure(sys.executable, "a red cube", prior="procedural", preset="fast", steps=STEPS, preview_every=5)
    preferences().device = "cpu"
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    state = run_to_end(timeout=240.0)
    assert state.status == "done", state.error_report()
    assert (state.step, state.total) == (STEPS, STEPS)

    obj = bpy.context.view_layer.objects.active
    assert obj.name == "a red cube" and len(obj.data.polygons) > 100
    colors = np.empty(len(obj.data.vertices) * 4, np.float32)
    obj.data.color_attributes["albedo"].data.foreach_get("color", colors)
    assert np.isfinite(colors).all() and colors.min() >= 0.0 and colors.max() <= 1.0 + 1e-6
    assert max(obj.dimensions) == pytest.approx(bpy.context.scene.dreamfusion.size, rel=1e-3)
    assert tuple(obj.scale) == (1.0, 1.0, 1.0), "the size is applied to the mesh"
    red, green, blue, _ = obj.data.materials[0].diffuse_color
    assert red > 1.5 * max(green, blue), f"Solid mode shows it red (after 10 steps): {red:.2f}, {green:.2f}, {blue:.2f}"
    image = bpy.data.images["DreamFusion Preview"]
    assert min(image.size) > 0 and state.preview_step == STEPS
    (record,) = bpy.context.scene.dreamfusion.history
    assert record.prior == "procedural" and record.thumbnail == state.preview_path


def test_cancel_stops_the_real_engine(addon) -> None:
    configure(sys.executable, "a red cube", prior="procedural", preset="fast", steps=100000)
    preferences().device = "cpu"
    bpy.ops.dreamfusion.generate()
    pid = runs().active_pid()
    pump_until(lambda state: state.step >= 1, timeout=120.0)
    bpy.ops.dreamfusion.cancel()
    state = run_to_end(timeout=10.0)
    assert state.status == "cancelled" and state.message.startswith("Cancelled at step"), state.message
    assert_process_gone(pid)
    assert len(bpy.data.objects) == 0
    (record,) = bpy.context.scene.dreamfusion.history
    assert record.status == "cancelled" and record.steps == state.cancelled_at_step, "History offers Resume"


def test_a_prompt_the_prior_cannot_read_leaves_no_run_folder(addon) -> None:
    configure(sys.executable, "a flying carpet", prior="procedural", preset="fast", steps=STEPS)
    preferences().device = "cpu"
    runs_root = Path(bpy.utils.extension_path_user(PACKAGE, create=True)) / "runs"
    before = set(runs_root.iterdir()) if runs_root.is_dir() else set()
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    state = run_to_end(timeout=120.0)
    assert state.status == "failed" and state.error.startswith("The procedural prior does not know 'flying'")
    assert set(runs_root.iterdir()) == before, "the folder with only worker.log in it is gone"
    assert len(bpy.context.scene.dreamfusion.history) == 0
