"""export_run and remesh_run end to end on an analytic field: the run folder's files, their formats,
re-extraction at other thresholds, and the failures a user can meet.

The field is a cone of density, tau = 20 (1 - r / 0.8), so the surface at threshold t is the sphere of
radius 0.8 (1 - t / 20); its albedo is a known color ramp.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from engine.config import MeshConfig
from engine.errors import EngineError
from engine.mesh.density_grid import GRID_FILE, load_grid
from engine.mesh.file_format import linear_to_srgb, read_npz
from engine.mesh.interchange import read_glb
from engine.mesh.pipeline import export_run, remesh_run

BOUND = 1.0
RESOLUTION = 64
VOXEL = 2 * BOUND / (RESOLUTION - 1)


def cone_density(points: np.ndarray) -> np.ndarray:
    return np.clip(20.0 * (1.0 - np.linalg.norm(points, axis=1) / 0.8), 0.0, None).astype(np.float32)


def color_ramp(points: np.ndarray) -> np.ndarray:
    return np.clip(0.5 + 0.5 * points, 0.0, 1.0).astype(np.float32)


def radius_at(threshold: float) -> float:
    return 0.8 * (1.0 - threshold / 20.0)


def export(run_dir: Path, **settings) -> tuple:
    stages: list[tuple[str, float]] = []
    config = MeshConfig(grid_resolution=RESOLUTION, **settings)
    result = export_run(cone_density, color_ramp, config, BOUND, run_dir, lambda s, f: stages.append((s, f)))
    return result, stages


@pytest.fixture(scope="module")
def vertex_run(tmp_path_factory) -> tuple:
    return export(tmp_path_factory.mktemp("run"), threshold=5.0, smooth_iterations=0)


def test_export_writes_the_grid_and_a_blender_ready_mesh(vertex_run) -> None:
    result, stages = vertex_run
    run_dir = result.mesh_npz.parent
    with np.load(run_dir / GRID_FILE, allow_pickle=False) as data:
        assert {"format_version", "bound", "density", "albedo"} <= set(data.files)
    mesh = read_npz(result.mesh_npz)
    assert (
        mesh.vertices.dtype == np.float32
        and mesh.faces.dtype == np.int32
        and mesh.colors.shape
        == (
            len(mesh.vertices),
            4,
        )
    )
    assert (result.vertices, result.faces, result.threshold) == (len(mesh.vertices), len(mesh.faces), 5.0)
    assert np.abs(np.linalg.norm(mesh.vertices, axis=1) - radius_at(5.0)).mean() < 0.2 * VOXEL
    # colors are stored linear; the field's values come back through the sRGB curve
    assert np.abs(linear_to_srgb(mesh.colors[:, :3]) - color_ramp(mesh.vertices)).mean() < 0.01
    assert result.glb == run_dir / "mesh.glb" and result.obj is None and result.texture is None
    assert list(dict.fromkeys(name for name, _ in stages)) == ["mesh", "bake", "export"]
    for name in ("mesh", "bake", "export"):
        fractions = [fraction for stage, fraction in stages if stage == name]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_glb_round_trips_through_trimesh_in_y_up(vertex_run) -> None:
    result, _ = vertex_run
    mesh = read_npz(result.mesh_npz)
    back = read_glb(result.glb)
    assert np.array_equal(back.faces, mesh.faces)
    assert np.allclose(back.vertices, mesh.vertices, atol=1e-6)
    assert np.abs(linear_to_srgb(back.colors[:, :3]) - linear_to_srgb(mesh.colors[:, :3])).max() <= 0.5 / 255 + 1e-6
    raw = trimesh.load(result.glb, force="mesh", process=False)
    assert np.allclose(raw.vertices[:, 1], mesh.vertices[:, 2], atol=1e-6)  # glTF's up is Blender's Z
    assert np.allclose(raw.vertices[:, 2], -mesh.vertices[:, 1], atol=1e-6)


def test_remeshing_at_the_run_threshold_reproduces_the_run_mesh(vertex_run) -> None:
    result, _ = vertex_run
    before = read_npz(result.mesh_npz)
    remesh_run(result.mesh_npz.parent, 5.0, MeshConfig(smooth_iterations=0))
    after = read_npz(result.mesh_npz)
    assert np.array_equal(before.vertices, after.vertices) and np.array_equal(before.faces, after.faces)


def test_remesh_at_other_thresholds_moves_the_surface(tmp_path: Path) -> None:
    export(tmp_path, smooth_iterations=0)
    for threshold in (4.0, 10.0):
        result = remesh_run(tmp_path, threshold, MeshConfig(smooth_iterations=0))
        vertices = read_npz(result.mesh_npz).vertices
        assert result.threshold == threshold
        assert np.abs(np.linalg.norm(vertices, axis=1) - radius_at(threshold)).mean() < 0.2 * VOXEL
        assert np.abs(read_glb(result.glb).vertices - vertices).max() < 1e-6


def test_uv_bake_writes_texture_glb_and_obj(tmp_path: Path) -> None:
    result, _ = export(tmp_path, threshold=5.0, bake="uv", texture_size=256, formats=("npz", "glb", "obj"))
    mesh = read_npz(result.mesh_npz)
    assert mesh.texture == "albedo.png" and mesh.uvs.shape == (3 * len(mesh.faces), 2)
    assert result.texture == tmp_path / "albedo.png"
    glb = trimesh.load(result.glb, force="mesh")
    assert glb.visual.uv is not None and glb.visual.material.baseColorTexture.size == (256, 256)
    assert np.allclose(np.sort(glb.bounds[:, 1]), [mesh.vertices[:, 2].min(), mesh.vertices[:, 2].max()], atol=1e-5)
    assert (tmp_path / "mesh.mtl").read_text().strip().endswith("map_Kd albedo.png")
    obj = trimesh.load(result.obj, force="mesh", process=False)
    assert np.allclose(obj.bounds, glb.bounds, atol=1e-5)
    texture = np.asarray(obj.visual.material.image.convert("RGB"))
    uv = np.asarray(obj.visual.uv)[0]
    texel = texture[int((1 - uv[1]) * 256), int(uv[0] * 256)] / 255.0
    blender_point = obj.vertices[0] @ np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]])
    assert np.abs(texel - color_ramp(blender_point[None])[0]).max() < 0.05


@pytest.mark.slow
def test_remesh_uses_the_run_config_and_removes_files_it_no_longer_writes(tmp_path: Path) -> None:
    export(tmp_path, bake="uv", texture_size=128, formats=("npz", "glb", "obj"))
    (tmp_path / "config.json").write_text(json.dumps({"prompt": "x", "mesh": {"formats": ["npz"]}}))
    result = remesh_run(tmp_path, 6.0)
    assert result.glb is None and result.texture is None
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", GRID_FILE, "mesh.npz"]
    assert read_npz(result.mesh_npz).uvs is None


def test_a_staging_folder_left_by_a_killed_export_is_removed_by_the_next(tmp_path: Path) -> None:
    leftover = tmp_path / ".mesh-killed.partial"
    leftover.mkdir(parents=True)
    (leftover / "mesh.npz").write_bytes(b"half written")
    export(tmp_path, threshold=5.0)
    assert not leftover.exists()
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_no_surface_keeps_the_previous_files(tmp_path: Path) -> None:
    export(tmp_path, threshold=5.0)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    with pytest.raises(EngineError, match=r"ranges from 0 to 19.3.*try a threshold of") as raised:
        remesh_run(tmp_path, 25.0, MeshConfig())
    assert raised.value.kind == "mesh"
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_missing_or_corrupt_grid_is_named(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"no density grid at .*density_grid\.npz") as raised:
        remesh_run(tmp_path, None, MeshConfig())
    assert raised.value.kind == "mesh"
    (tmp_path / GRID_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(EngineError, match=r"density_grid\.npz is corrupt"):
        remesh_run(tmp_path, None, MeshConfig())
    np.savez(tmp_path / GRID_FILE, format_version=np.int32(1), bound=np.float32(1), density=np.zeros((4, 5, 6)))
    with pytest.raises(EngineError, match=r"density_grid\.npz is corrupt"):
        load_grid(tmp_path / GRID_FILE)


def test_bad_settings_are_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="bake must be one of vertex, uv") as raised:
        export(tmp_path, bake="ptex")
    assert raised.value.kind == "input"
    assert not (tmp_path / GRID_FILE).exists()
    (tmp_path / "config.json").write_text(json.dumps({"mesh": {"grid_res": 3}}))
    with pytest.raises(EngineError, match=r"config\.json"):
        remesh_run(tmp_path, 1.0)
