"""The one atomic writer: readers see the old or the new file, and a failed write leaves no partial."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from engine.atomic_write import old_path, partial_path, replacing, write_text
from engine.errors import EngineError


def test_a_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    target.write_text("old")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_a_failing_writer_keeps_the_old_file_and_removes_its_partial(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    target.write_text("old")
    with (
        pytest.raises(EngineError, match=f"the disk is full: .* in {tmp_path}") as caught,
        replacing(target) as partial,
    ):
        partial.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.kind == "output"
    assert target.read_text() == "old"
    assert not partial_path(target).exists()


def test_a_writer_failing_for_another_reason_keeps_its_error(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    with pytest.raises(ValueError, match="not JSON"), replacing(target) as partial:
        partial.write_text("half")
        raise ValueError("not JSON")
    assert not target.exists() and not partial_path(target).exists()


def test_a_partial_left_by_a_killed_writer_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "frame.png"
    partial_path(target).mkdir()  # even a folder of that name, left by another kind of writer
    write_text(target, "frame")
    assert target.read_text() == "frame"
    assert not partial_path(target).exists()


def test_a_folder_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint"
    target.mkdir()
    (target / "state").write_text("step 200")
    (target / "stale").write_text("only in the old one")
    with replacing(target) as partial:
        partial.mkdir()
        (partial / "state").write_text("step 400")
    assert sorted(p.name for p in target.iterdir()) == ["state"]
    assert (target / "state").read_text() == "step 400"
    assert not old_path(target).exists() and not partial_path(target).exists()


def test_a_failed_folder_write_keeps_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint"
    target.mkdir()
    (target / "state").write_text("step 200")
    with pytest.raises(RuntimeError), replacing(target) as partial:
        partial.mkdir()
        (partial / "state").write_text("step 4")
        raise RuntimeError("killed mid-write")
    assert (target / "state").read_text() == "step 200"
    assert not partial_path(target).exists()
