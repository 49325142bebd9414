"""The add-on's side of a hostile test, without bpy: the files it opens in a run or batch folder are never followed
through a link nor waited on as a FIFO (a frozen Blender), and a path a ledger names stays inside its folder."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from dreamfusion.bridge.batch_folder import BatchFolder, newest_preview, read_batch_folder
from dreamfusion.bridge.command_line import RequestError
from dreamfusion.bridge.worker import EngineWorker, WorkerStartError
from dreamfusion.engine.batch.ledger import PromptRecord, PromptStatus, write_ledger
from dreamfusion.engine.mesh.file_format import MeshData, MeshFileError, read_npz, write_npz

MINE = "the user's own notes\n"


def test_a_fifo_worker_log_is_refused_at_once_and_no_engine_starts(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "worker.log")
    worker = EngineWorker([sys.executable, "-c", "print('started')"], tmp_path, log_path=tmp_path / "worker.log")
    started = time.monotonic()
    with pytest.raises(WorkerStartError, match=r"worker\.log is a FIFO, not a regular file"):
        worker.start()
    assert time.monotonic() - started < 5 and worker.messages.empty()


def test_a_worker_log_that_links_to_a_users_file_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    victim = tmp_path / "notes.txt"
    victim.write_text(MINE)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "worker.log").symlink_to(victim)
    worker = EngineWorker([sys.executable, "-c", "print('x')"], tmp_path, log_path=tmp_path / "run" / "worker.log")
    with pytest.raises(WorkerStartError, match="is a symbolic link"):
        worker.start()
    assert victim.read_text() == MINE


def _batch(tmp_path: Path, mesh: str, run_dir: str = "000-a-red-cube") -> BatchFolder:
    folder = tmp_path / "batch"
    (folder / "000-a-red-cube").mkdir(parents=True, exist_ok=True)
    write_npz(folder / "000-a-red-cube" / "mesh.npz", MeshData(np.eye(3), [[0, 1, 2]], np.ones((3, 4))))
    write_ledger(folder, [PromptRecord(0, "a red cube", PromptStatus.DONE, run_dir=run_dir, mesh=mesh)])
    return read_batch_folder(folder)


@pytest.mark.parametrize(
    ("mesh", "run_dir"),
    [
        ("/etc/hostname", "000-a-red-cube"),
        ("../outside/mesh.npz", "000-a-red-cube"),
        ("000-a-red-cube/mesh.npz", ".."),
        ("000-a-red-cube/mesh.npz", "/tmp"),
        ("", "000-a-red-cube"),
    ],
)
def test_a_ledger_path_that_leaves_the_batch_folder_is_refused(mesh: str, run_dir: str, tmp_path: Path) -> None:
    batch = _batch(tmp_path, mesh, run_dir)
    with pytest.raises(RequestError, match="the ledger names"):
        batch.run_record(batch.records[0], datetime.now())


def test_a_ledger_path_inside_reads_and_a_fifo_log_or_preview_does_not_hang(tmp_path: Path) -> None:
    batch = _batch(tmp_path, "000-a-red-cube/mesh.npz")
    run_dir = batch.path / "000-a-red-cube"
    os.mkfifo(run_dir / "log.jsonl")
    os.mkfifo(run_dir / "config.json")
    (run_dir / "previews").mkdir()
    os.mkfifo(run_dir / "previews" / "step_000009.png")
    (run_dir / "previews" / "step_000003.png").write_bytes(b"png")
    record = batch.run_record(batch.records[0], datetime.now())
    assert record.mesh == str(run_dir / "mesh.npz") and record.seed == 0
    assert newest_preview(run_dir) == run_dir / "previews" / "step_000003.png"
    assert read_npz(Path(record.mesh)).vertices.shape == (3, 3)


def test_a_fifo_mesh_file_is_a_sentence_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "mesh.npz")
    with pytest.raises(MeshFileError, match="is a FIFO"):
        read_npz(tmp_path / "mesh.npz")
