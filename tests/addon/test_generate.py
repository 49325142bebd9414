"""Generate, cancel and fail through the installed extension's operators, with the fake engine as a real process."""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.addon.addon_harness import assert_process_gone, configure, pump_until, run_to_end, runs
from tests.fixtures import fake_engine

STEPS = 10
PREVIEW_EVERY = 3
BOX = fake_engine.box_mesh((0.3, 0.15, 0.2))  # what the fake writes: 0.6 x 0.3 x 0.4 m


def launcher(tmp_path: Path, *flags: str) -> Path:
    return fake_engine.write_launcher(tmp_path, "--pid-file", str(tmp_path / "engine.pid"), *flags)


def engine_pid(tmp_path: Path) -> int:
    return int((tmp_path / "engine.pid").read_text())


def test_generate_imports_a_lit_object_at_the_cursor_in_one_undo_step(addon, tmp_path: Path) -> None:
    configure(launcher(tmp_path, "--step-seconds", "0.05"), steps=STEPS, preview_every=PREVIEW_EVERY, size=2.0)
    bpy.context.scene.cursor.location = (1.0, 2.0, 3.0)
    bpy.ops.ed.undo_push(message="before generate")
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    steps_seen: list[int] = []
    pump_until(lambda state: steps_seen.append(state.step) or state.step >= STEPS)
    state = run_to_end()

    assert state.status == "done", state.error_report()
    assert steps_seen == sorted(steps_seen) and any(0 < step < STEPS for step in steps_seen)
    assert (state.step, state.total) == (STEPS, STEPS)
    assert_process_gone(engine_pid(tmp_path))

    obj = bpy.context.view_layer.objects.active
    assert obj.name == "a red cube" and obj.select_get() and list(bpy.context.selected_objects) == [obj]
    scale = 2.0 / 0.6
    assert tuple(obj.scale) == (1.0, 1.0, 1.0), "the size is in the mesh: its scale is applied"
    assert tuple(obj.location) == pytest.approx((1.0, 2.0, 3.0 + 0.2 * scale)), "rests on the cursor"
    assert max(obj.dimensions) == pytest.approx(2.0)

    mesh = obj.data
    assert (len(mesh.vertices), len(mesh.polygons)) == (8, 12)
    positions = np.empty(8 * 3, np.float32)
    mesh.vertices.foreach_get("co", positions)
    np.testing.assert_allclose(positions.reshape(-1, 3), BOX.vertices * scale, rtol=1e-6)
    attribute = mesh.color_attributes["albedo"]
    assert (attribute.data_type, attribute.domain) == ("FLOAT_COLOR", "POINT")
    colors = np.empty(8 * 4, np.float32)
    attribute.data.foreach_get("color", colors)
    np.testing.assert_allclose(colors.reshape(-1, 4), BOX.colors, atol=1e-6)

    material = mesh.materials[0]
    bsdf = material.node_tree.nodes["Principled BSDF"]
    (link,) = bsdf.inputs["Base Color"].links
    assert link.from_node.type == "VERTEX_COLOR" and link.from_node.layer_name == "albedo"
    assert material.node_tree.nodes["Material Output"].inputs["Surface"].links[0].from_node == bsdf
    # the box's colors run linearly from 0 to 1 across it, so its surface's mean is its center's: 0.5
    assert tuple(material.diffuse_color) == pytest.approx((0.5, 0.5, 0.5, 1.0)), "Solid mode's color"

    image = bpy.data.images["DreamFusion Preview"]
    assert tuple(image.size) == fake_engine.PREVIEW_SIZE
    pixels = np.empty(image.size[0] * image.size[1] * 4, np.float32)
    image.pixels.foreach_get(pixels)
    last_preview = STEPS - STEPS % PREVIEW_EVERY
    expected = fake_engine.preview_pixels(last_preview, STEPS)[::-1] / 255.0  # Blender's rows go bottom-up
    np.testing.assert_allclose(pixels.reshape(*expected.shape[:2], 4)[..., :3], expected, atol=1 / 255)
    assert [image.name for image in bpy.data.images].count("DreamFusion Preview") == 1

    (record,) = bpy.context.scene.dreamfusion.history
    assert record.prompt == "a red cube" and record.object == obj and Path(record.mesh).is_file()
    assert record.thumbnail.endswith(f"step_{last_preview:06d}.png") and record.steps == STEPS

    bpy.ops.ed.undo()
    assert "a red cube" not in bpy.data.objects and len(bpy.context.scene.dreamfusion.history) == 0


def test_a_uv_bake_gets_an_image_texture(addon, tmp_path: Path) -> None:
    configure(launcher(tmp_path, "--uv"), steps=2)
    bpy.ops.dreamfusion.generate()
    assert run_to_end().status == "done"
    mesh = bpy.context.view_layer.objects.active.data
    uvs = np.empty(len(mesh.loops) * 2, np.float32)
    mesh.uv_layers["UVMap"].uv.foreach_get("vector", uvs)
    np.testing.assert_allclose(uvs.reshape(-1, 2)[:3], [[0, 0], [1, 0], [1, 1]])
    (link,) = mesh.materials[0].node_tree.nodes["Principled BSDF"].inputs["Base Color"].links
    assert link.from_node.type == "TEX_IMAGE" and Path(link.from_node.image.filepath).name == "albedo.png"
    assert tuple(link.from_node.image.size) == (8, 8)


def test_an_engine_error_is_shown_and_the_scene_is_untouched(addon, tmp_path: Path) -> None:
    configure(launcher(tmp_path, "--behaviour", "error"))
    bpy.ops.dreamfusion.generate()
    state = run_to_end()
    assert state.status == "failed" and state.error == "The prompt has no word the prior knows"
    assert len(bpy.data.objects) == 0 and len(bpy.context.scene.dreamfusion.history) == 0


def test_a_crash_names_the_exit_and_shows_the_last_log_lines(addon, tmp_path: Path) -> None:
    configure(launcher(tmp_path, "--behaviour", "crash", "--crash-at", "3"), steps=STEPS)
    bpy.ops.dreamfusion.generate()
    state = run_to_end()
    assert state.status == "failed" and "stopped unexpectedly (exit code 1)" in state.error
    assert "RuntimeError: fake crash: CUDA out of memory" in state.log_tail
    assert state.error_report().endswith("RuntimeError: fake crash: CUDA out of memory")
    assert "fake engine: loading weights" in (Path(state.run_dir) / "worker.log").read_text()
    assert len(bpy.data.objects) == 0 and len(bpy.data.meshes) == 0
    assert_process_gone(engine_pid(tmp_path))


def test_cancel_stops_the_engine_and_leaves_no_process(addon, tmp_path: Path) -> None:
    configure(launcher(tmp_path, "--step-seconds", "0.05"), steps=100000)
    bpy.ops.dreamfusion.generate()
    pump_until(lambda state: state.step >= 2)
    assert bpy.ops.dreamfusion.cancel() == {"FINISHED"}
    state = run_to_end(timeout=5.0)
    assert state.status == "cancelled" and state.message.startswith("Cancelled at step")
    assert_process_gone(engine_pid(tmp_path))
    assert len(bpy.data.objects) == 0
    with pytest.raises(RuntimeError, match="No run is going"):
        bpy.ops.dreamfusion.cancel()


@pytest.mark.slow
def test_cancel_kills_an_engine_that_ignores_stop_and_sigterm(addon, tmp_path: Path) -> None:
    configure(launcher(tmp_path, "--behaviour", "hang-hard"))
    bpy.ops.dreamfusion.generate()
    pump_until(lambda state: state.step >= 1)
    bpy.ops.dreamfusion.cancel()
    state = run_to_end(timeout=10.0)
    assert state.status == "cancelled" and state.message.endswith("was killed)")
    assert_process_gone(engine_pid(tmp_path))


def test_a_second_generate_is_refused_while_one_runs(addon, tmp_path: Path) -> None:
    configure(launcher(tmp_path, "--step-seconds", "0.05"), steps=100000)
    bpy.ops.dreamfusion.generate()
    with pytest.raises(RuntimeError, match="A run is already going"):
        bpy.ops.dreamfusion.generate()
    assert runs().busy()


@pytest.mark.parametrize(
    ("prompt", "engine_python", "message"),
    [
        ("   ", sys.executable, "Type a prompt first"),
        ("a red cube", "", "Set up the engine first"),
        ("a red cube", "/nonexistent/python", "does not exist"),
    ],
)
def test_settings_a_user_must_fix_are_refused_in_plain_words(addon, prompt, engine_python, message) -> None:
    configure(engine_python, prompt)
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.dreamfusion.generate()
    state = runs().state()
    assert state.status == "failed" and message in state.error and not runs().busy()
