"""Re-extract replaces the run's object's mesh; the history re-imports and forgets runs; import from a file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bpy
import pytest

from engine.mesh.file_format import write_npz
from tests.addon.addon_harness import configure, pump_until, run_to_end, runs
from tests.addon.test_panels import draw_panel
from tests.fixtures import fake_engine


@pytest.fixture
def generated(addon, tmp_path: Path) -> bpy.types.Object:
    """One finished fake run, imported."""
    configure(fake_engine.write_launcher(tmp_path), steps=2)
    bpy.ops.dreamfusion.generate()
    assert run_to_end().status == "done"
    return bpy.context.view_layer.objects.active


def test_remesh_replaces_the_mesh_of_the_same_object(generated: bpy.types.Object) -> None:
    obj, material = generated, generated.data.materials[0]
    location, scale = tuple(obj.location), tuple(obj.scale)
    bpy.ops.ed.undo_push(message="before remesh")
    assert bpy.ops.dreamfusion.remesh(index=0, threshold=4.0) == {"FINISHED"}
    state = run_to_end()
    assert state.status == "done" and state.kind == "remesh"

    obj = bpy.data.objects["a red cube"]
    assert len(bpy.data.objects) == 1 and len(obj.data.vertices) == 6, "the fake remesh writes an octahedron"
    assert max(obj.dimensions) == pytest.approx(2 * 0.4 / 0.6), "the engine's units at the first import's size"
    assert obj.data.name == "a red cube" and len(bpy.data.meshes) == 1
    assert obj.data.materials[0] == material
    assert tuple(obj.location) == location and tuple(obj.scale) == scale
    (record,) = bpy.context.scene.dreamfusion.history
    assert record.threshold == 4.0 and Path(record.mesh).parent.name == "remesh_4" and record.object == obj

    bpy.ops.ed.undo()
    assert len(bpy.data.objects["a red cube"].data.vertices) == 8, "one undo step restores the first mesh"


def test_remesh_of_a_deleted_object_imports_it_again(generated: bpy.types.Object) -> None:
    bpy.data.objects.remove(generated)
    bpy.ops.dreamfusion.remesh(index=0, threshold=2.0)
    assert run_to_end().status == "done"
    (obj,) = bpy.context.scene.objects
    assert len(obj.data.vertices) == 6 and bpy.context.scene.dreamfusion.history[0].object == obj


def test_history_import_again_and_remove(generated: bpy.types.Object) -> None:
    assert bpy.ops.dreamfusion.history_import(index=0) == {"FINISHED"}
    assert sorted(obj.name for obj in bpy.context.scene.objects) == ["a red cube", "a red cube.001"]
    assert bpy.context.view_layer.objects.active.name == "a red cube.001"
    with pytest.raises(RuntimeError, match="There is no run number 2"):
        bpy.ops.dreamfusion.history_import(index=1)
    assert bpy.ops.dreamfusion.history_remove(index=0) == {"FINISHED"}
    assert len(bpy.context.scene.dreamfusion.history) == 0 and len(bpy.context.scene.objects) == 2


def test_import_asset_reads_a_mesh_file_and_refuses_a_broken_one(addon, tmp_path: Path) -> None:
    path = tmp_path / "chair" / "mesh.npz"
    path.parent.mkdir()
    write_npz(path, fake_engine.box_mesh((0.5, 0.5, 1.0)))
    assert bpy.ops.dreamfusion.import_asset(filepath=str(path), size=3.0) == {"FINISHED"}
    obj = bpy.context.view_layer.objects.active
    assert obj.name == "chair" and max(obj.dimensions) == pytest.approx(3.0)
    path.write_bytes(b"not a zip")
    with pytest.raises(RuntimeError, match="not a readable mesh file"):
        bpy.ops.dreamfusion.import_asset(filepath=str(path))
    assert len(bpy.data.objects) == 1


def test_import_gives_the_object_its_albedo_in_solid_mode_and_an_applied_scale(addon, tmp_path: Path) -> None:
    path = tmp_path / "red box" / "mesh.npz"
    path.parent.mkdir()
    mesh = fake_engine.box_mesh((0.5, 0.25, 0.25))
    mesh.colors[:, :3] = (0.8, 0.05, 0.02)  # scene-linear, as the engine bakes it
    write_npz(path, mesh)
    assert bpy.ops.dreamfusion.import_asset(filepath=str(path), size=2.0) == {"FINISHED"}
    obj = bpy.context.view_layer.objects.active
    assert tuple(obj.scale) == (1.0, 1.0, 1.0) and tuple(obj.dimensions) == pytest.approx((2.0, 1.0, 1.0))
    material = obj.data.materials[0]
    assert tuple(material.diffuse_color) == pytest.approx((0.8, 0.05, 0.02, 1.0)), "Solid mode shows the albedo"


def test_a_cancelled_run_stays_in_the_history_and_resumes_from_its_checkpoint(addon, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--step-seconds", "0.05"), steps=40, preview_every=2)
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    pump_until(lambda state: state.step >= 4)
    bpy.ops.dreamfusion.cancel()
    stopped = run_to_end()
    assert stopped.status == "cancelled" and len(bpy.data.objects) == 0

    (record,) = bpy.context.scene.dreamfusion.history
    assert (record.status, record.steps, record.mesh) == ("cancelled", stopped.cancelled_at_step, "")
    assert record.thumbnail == stopped.preview_path, "its last preview is its thumbnail"
    history = draw_panel("history", "DREAMFUSION_PT_history")
    operators = history.operators()
    assert operators["dreamfusion.history_resume"].enabled and operators["dreamfusion.history_resume"].args[
        "properties"
    ] == {"index": 0}
    assert not operators["dreamfusion.history_import"].enabled, "nothing to import before it is done"
    assert "dreamfusion.remesh" not in operators
    with pytest.raises(RuntimeError, match="stopped before it made a mesh"):
        bpy.ops.dreamfusion.history_import(index=0)

    assert bpy.ops.dreamfusion.history_resume(index=0) == {"FINISHED"}
    state = run_to_end()
    assert state.status == "done" and (state.step, state.total) == (40, 40)
    (record,) = bpy.context.scene.dreamfusion.history
    assert record.status == "done" and Path(record.mesh).is_file() and record.object is not None
    assert record.object == bpy.context.view_layer.objects.active and record.object.name == "a red cube"
    log = [json.loads(line) for line in (Path(record.run_dir) / "log.jsonl").read_text().splitlines()]
    started = [event for event in log if event["event"] == "started"]
    assert [event["resumed"] for event in started] == [False, True], "the same run folder, continued"
    progress = [event["step"] for event in log if event["event"] == "progress"]
    assert progress == list(range(1, 41)), "no step run twice: it went on from the checkpoint"
    assert not runs().busy()


@pytest.mark.parametrize(("prior", "expected"), [("stable-diffusion", True), ("procedural", False)])
def test_resume_turns_low_memory_on_for_a_learned_run_that_ran_out(
    addon, tmp_path: Path, prior: str, expected: bool
) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--step-seconds", "0.05"), steps=40, prior=prior, low_memory=False)
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    pump_until(lambda state: state.step >= 2)
    bpy.ops.dreamfusion.cancel()
    run_to_end()
    bpy.context.scene.dreamfusion.low_memory = True  # what a user does after running out of GPU memory
    assert bpy.ops.dreamfusion.history_resume(index=0) == {"FINISHED"}
    assert run_to_end().status == "done"
    (record,) = bpy.context.scene.dreamfusion.history
    config = json.loads((Path(record.run_dir) / "config.json").read_text())
    assert config["low_memory"] is expected, "low memory means something to learned priors only"


def test_resume_refuses_a_run_whose_checkpoint_is_gone(addon, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--step-seconds", "0.05"), steps=40)
    bpy.ops.dreamfusion.generate()
    pump_until(lambda state: state.step >= 2)
    bpy.ops.dreamfusion.cancel()
    run_to_end()
    (record,) = bpy.context.scene.dreamfusion.history
    shutil.rmtree(Path(record.run_dir) / "checkpoint")
    with pytest.raises(RuntimeError, match="holds no checkpoint to resume from"):
        bpy.ops.dreamfusion.history_resume(index=0)
    assert not runs().busy()
