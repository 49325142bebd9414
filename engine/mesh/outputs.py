"""The run folder's mesh files, replaced all together: every new file is written into a private
``.partial`` folder first and moved into place only when all of them are complete, so a failed or
interrupted export or remesh leaves the previous mesh files as they were. A staging folder left by a
process that was killed mid-export is removed by the next export of the same run: only the process that
holds the run folder's lock (``engine/run_lock.py``) exports, so no other one can be writing it."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic_write import is_disk_full, write_error
from ..errors import EngineError
from .file_format import MeshData, write_npz
from .interchange import write_glb, write_obj, write_texture

MESH_FILE = "mesh.npz"
GLB_FILE = "mesh.glb"
OBJ_FILE = "mesh.obj"
MTL_FILE = "mesh.mtl"
TEXTURE_FILE = "albedo.png"
STAGING_PREFIX, STAGING_SUFFIX = ".mesh-", ".partial"


@dataclass
class WrittenFiles:
    mesh_npz: Path
    glb: Path | None
    obj: Path | None
    texture: Path | None


def write_mesh_files(
    run_dir: Path, mesh: MeshData, texture: np.ndarray | None, formats: tuple[str, ...]
) -> WrittenFiles:
    """Write mesh.npz (always: it is what the add-on imports), and mesh.glb and mesh.obj + mesh.mtl when
    ``formats`` asks; albedo.png with a texture. Mesh files of an earlier export that this one does not
    write are removed, so the folder never mixes two extractions."""
    run_dir = Path(run_dir)
    for leftover in run_dir.glob(f"{STAGING_PREFIX}*{STAGING_SUFFIX}"):
        shutil.rmtree(leftover, ignore_errors=True)  # left by an export that was killed (we hold the lock)
    try:
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, suffix=STAGING_SUFFIX, dir=run_dir))
    except OSError as exc:
        raise write_error(exc, run_dir) from exc
    try:
        names = [MESH_FILE]
        write_npz(staging / MESH_FILE, mesh)
        if texture is not None:
            write_texture(staging / TEXTURE_FILE, texture)
            names.append(TEXTURE_FILE)
        if "glb" in formats:
            write_glb(staging / GLB_FILE, mesh, texture_image=texture)
            names.append(GLB_FILE)
        if "obj" in formats:
            write_obj(staging / OBJ_FILE, mesh)
            names += [OBJ_FILE, MTL_FILE]
        for name in names:
            os.replace(staging / name, run_dir / name)
    except (OSError, EngineError) as exc:
        if isinstance(exc, EngineError) and not is_disk_full(exc):
            raise
        raise write_error(exc, run_dir) from exc  # named by the run folder, not the staging folder
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for stale in {GLB_FILE, OBJ_FILE, MTL_FILE, TEXTURE_FILE} - set(names):
        (run_dir / stale).unlink(missing_ok=True)
    written = set(names)
    return WrittenFiles(
        mesh_npz=run_dir / MESH_FILE,
        glb=run_dir / GLB_FILE if GLB_FILE in written else None,
        obj=run_dir / OBJ_FILE if OBJ_FILE in written else None,
        texture=run_dir / TEXTURE_FILE if TEXTURE_FILE in written else None,
    )
