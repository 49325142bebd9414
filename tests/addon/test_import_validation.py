"""Blender's imports trust nothing they read: a mesh file that is truncated, of the wrong
shapes, NaN, a link or a FIFO is one sentence and leaves the scene and ``bpy.data`` as they were; a batch
imports every prompt it can past a bad one, and never a mesh its ledger places outside the batch folder."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import bpy
import numpy as np
import pytest

from engine.batch.ledger import PromptRecord, PromptStatus, read_ledger, write_ledger
from engine.mesh import versioned_npz
from engine.mesh.file_format import FORMAT_VERSION, write_npz
from tests.addon.addon_harness import configure
from tests.addon.test_import_batch import make_batch_folder
from tests.fixtures import fake_engine


def _arrays(**changes: np.ndarray) -> Callable[[Path], None]:
    """A writer of a mesh file whose arrays are a box's with ``changes``."""

    def write(path: Path) -> None:
        box = fake_engine.box_mesh((0.5, 0.5, 0.5))
        arrays = {"vertices": box.vertices, "faces": box.faces, "colors": box.colors, **changes}
        versioned_npz.save(path, FORMAT_VERSION, arrays)

    return write


def _truncated(path: Path) -> None:
    write_npz(path, fake_engine.box_mesh((0.5, 0.5, 0.5)))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _link(path: Path) -> None:
    target = path.with_name("elsewhere.npz")
    write_npz(target, fake_engine.box_mesh((0.5, 0.5, 0.5)))
    path.symlink_to(target)


NAN_VERTICES = fake_engine.box_mesh((0.5, 0.5, 0.5)).vertices.copy()
NAN_VERTICES[0, 0] = np.nan
BAD_FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_truncated, "is not a readable mesh file"),
    "1-D colors": (_arrays(colors=np.ones(8, np.float32)), "its colors are float32 of shape (8,)"),
    "2-D vertices": (_arrays(vertices=np.zeros((8, 2), np.float32)), "its vertices are float32 of shape (8, 2)"),
    "NaN vertices": (_arrays(vertices=NAN_VERTICES), "hold NaN or infinite values"),
    "float faces": (_arrays(faces=np.zeros((12, 3), np.float32)), "its faces are float32"),
    "uvs of another length": (_arrays(uvs=np.zeros((5, 2), np.float32)), "its uvs are float32 of shape (5, 2)"),
    "texture outside": (_arrays(texture=np.array("../albedo.png")), "is not a file name beside it"),
    "a FIFO": (_fifo, "is a FIFO, not a regular file"),
    "a link": (_link, "is a symbolic link, not a regular file"),
}


def _datablocks() -> dict[str, int]:
    return {kind: len(getattr(bpy.data, kind)) for kind in ("objects", "meshes", "materials", "images")}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_mesh_file_is_one_sentence_and_leaves_nothing_behind(case: str, addon, tmp_path: Path) -> None:
    write, words = BAD_FILES[case]
    path = tmp_path / "mesh.npz"
    write(path)
    before = _datablocks()
    with pytest.raises(RuntimeError, match=re.escape(words)) as raised:
        bpy.ops.dreamfusion.import_asset(filepath=str(path))
    assert str(raised.value).startswith(f"Error: {path}") and "Traceback" not in str(raised.value)
    assert _datablocks() == before


def test_a_batch_imports_past_a_bad_file_and_never_from_outside_its_folder(addon, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path))
    batch = make_batch_folder(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    write_npz(outside / "mesh.npz", fake_engine.box_mesh((0.5, 0.5, 0.5)))
    _truncated(batch / "000-a-red-cube" / "mesh.npz")
    shutil.copytree(batch / "001-a-blue-sphere", batch / "003-a-green-cone")
    (batch / "003-a-green-cone" / "mesh.npz").unlink()
    (batch / "003-a-green-cone" / "mesh.npz").symlink_to(outside / "mesh.npz")
    escaping = [
        ("an absolute path", str(outside / "mesh.npz")),
        ("a path up", "../outside/mesh.npz"),
        ("a link out", "003-a-green-cone/mesh.npz"),
    ]
    records = read_ledger(batch)
    for number, (prompt, mesh) in enumerate(escaping, start=len(records)):
        run_dir = "003-a-green-cone" if prompt == "a link out" else "001-a-blue-sphere"
        records.append(PromptRecord(number, prompt, PromptStatus.DONE, run_dir=run_dir, mesh=mesh))
    write_ledger(batch, records)

    assert bpy.ops.dreamfusion.import_batch(filepath=str(batch)) == {"FINISHED"}
    assert [obj.name for obj in bpy.data.collections["DreamFusion"].objects] == ["a blue sphere"]
    assert len(bpy.data.meshes) == 1 and len(bpy.data.materials) == 1, "nothing left of the refused prompts"


def test_a_fifo_preview_neither_blocks_blender_nor_becomes_an_icon(addon, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "step_000003.png")
    with pytest.raises(RuntimeError, match="is not a regular file"):
        addon.scene.preview_image.show_preview(tmp_path / "step_000003.png")
    assert addon.scene.thumbnails.icon_id(str(tmp_path / "step_000003.png")) == 0
    assert len(bpy.data.images) == 0
