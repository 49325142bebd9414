"""A full disk is an expected failure: a sentence saying so and naming the folder, the earlier files intact,
no partial files, nothing on stderr. On a real 1 MB tmpfs where this machine may mount one (root), else
with every file replacement failing with ENOSPC."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import checkpoint
from engine.atomic_write import OLD_SUFFIX, PARTIAL_SUFFIX
from engine.cli import main
from engine.config import FieldConfig, OptimConfig
from engine.errors import EngineError
from engine.field.grid import GridField
from engine.mesh.density_grid import GRID_FILE, DensityGrid, load_grid, save_grid
from engine.mesh.file_format import MeshData
from engine.mesh.outputs import MESH_FILE, write_mesh_files
from engine.optimizer import build_optimizer


class SmallDisk:
    """A folder on a disk that ``fill()`` leaves without free space."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch, mounted: bool) -> None:
        self.folder, self._monkeypatch, self.mounted = folder, monkeypatch, mounted

    def fill(self) -> None:
        if not self.mounted:
            self._monkeypatch.setattr(os, "replace", _no_space)
            return
        with open(self.folder / "filler", "wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

    def leftovers(self) -> list[str]:
        """Partial or moved-aside files anywhere on the disk."""
        return [p.name for p in self.folder.rglob("*") if p.name.endswith((PARTIAL_SUFFIX, OLD_SUFFIX))]


def _no_space(*_: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallDisk]:
    folder = tmp_path / "disk"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)]
    mounted = os.geteuid() == 0 and subprocess.run(mount, capture_output=True).returncode == 0
    try:
        yield SmallDisk(folder, monkeypatch, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def _disk_full(folder: Path) -> Callable[[EngineError], bool]:
    return lambda exc: exc.kind == "output" and f"the disk is full: nothing more can be written in {folder}" in str(exc)


def test_a_checkpoint_on_a_full_disk_keeps_the_earlier_one(disk: SmallDisk, capfd: pytest.CaptureFixture[str]) -> None:
    field = GridField(FieldConfig(grid_resolutions=(8, 16)))
    optimizer, generator = build_optimizer(field, OptimConfig()), torch.Generator().manual_seed(0)
    directory = disk.folder / "run" / "checkpoint"
    checkpoint.save(directory, 10, field, optimizer, generator)
    before = (directory / checkpoint.STATE_FILE).read_bytes()
    disk.fill()
    with pytest.raises(EngineError) as caught:
        checkpoint.save(directory, 20, field, optimizer, generator)
    assert _disk_full(directory.parent)(caught.value)
    assert (directory / checkpoint.STATE_FILE).read_bytes() == before
    assert checkpoint.read_meta(directory)["step"] == 10
    assert disk.leftovers() == [] and capfd.readouterr().err == ""


def _grid() -> DensityGrid:
    axis = np.linspace(-1.0, 1.0, 32, dtype=np.float32)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    density = np.where(x**2 + y**2 + z**2 < 0.5**2, 50.0, 0.0).astype(np.float32)
    return DensityGrid(density, np.full((16, 16, 16, 3), 200, dtype=np.uint8), 1.0)


def test_a_density_grid_on_a_full_disk_leaves_no_partial(disk: SmallDisk, capfd: pytest.CaptureFixture[str]) -> None:
    save_grid(disk.folder / GRID_FILE, _grid())
    before = (disk.folder / GRID_FILE).read_bytes()
    disk.fill()
    with pytest.raises(EngineError) as caught:
        save_grid(disk.folder / GRID_FILE, DensityGrid(_grid().density * 2, _grid().albedo, 1.0))
    assert _disk_full(disk.folder)(caught.value)
    assert (disk.folder / GRID_FILE).read_bytes() == before and load_grid(disk.folder / GRID_FILE).bound == 1.0
    assert disk.leftovers() == [] and capfd.readouterr().err == ""


def test_mesh_files_on_a_full_disk_keep_the_earlier_ones(disk: SmallDisk) -> None:
    triangle = MeshData(np.eye(3), np.array([[0, 1, 2]]), np.ones((3, 4)))
    write_mesh_files(disk.folder, triangle, None, ("npz", "glb"))
    before = (disk.folder / MESH_FILE).read_bytes()
    disk.fill()
    big = MeshData(np.random.default_rng(0).random((40_000, 3)), np.zeros((40_000, 3)), np.ones((40_000, 4)))
    with pytest.raises(EngineError) as caught:
        write_mesh_files(disk.folder, big, None, ("npz", "glb"))
    assert _disk_full(disk.folder)(caught.value)
    assert (disk.folder / MESH_FILE).read_bytes() == before
    assert [p.name for p in disk.folder.iterdir() if p.name.startswith(".mesh-")] == []


def test_remesh_on_a_full_disk_is_one_error_event(disk: SmallDisk, capfd: pytest.CaptureFixture[str]) -> None:
    save_grid(disk.folder / GRID_FILE, _grid())
    disk.fill()
    assert main(["remesh", str(disk.folder)]) == 2
    out, err = capfd.readouterr()
    last = json.loads(out.strip().splitlines()[-1])
    assert last["event"] == "error" and last["kind"] == "output" and "the disk is full" in last["message"]
    assert disk.leftovers() == [] and err == ""
