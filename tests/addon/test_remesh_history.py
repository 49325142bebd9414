"""Re-extract replaces the run's object's mesh; the history re-imports and forgets runs; import from a file."""

from __future__ import annotations

from pathlib import Path

import bpy
import pytest

from engine.mesh.file_format import write_npz
from tests.addon.addon_harness import configure, run_to_end
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
