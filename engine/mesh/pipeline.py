"""From a trained field to the run's mesh files, and back again at another threshold.

``export_run`` (the trainer's one call after optimization) samples the field into
``density_grid.npz`` and then meshes from that stored file; ``remesh_run`` (``python -m engine
remesh``) meshes from the same file without the field. Both go through ``_mesh_from_grid``, so a
remesh at the threshold of the run reproduces the run's mesh exactly.
No torch anywhere: the field arrives as numpy callables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import CameraConfig, MeshConfig, check, from_dict
from ..config_schema import ConfigError
from ..errors import EngineError
from ..run_files import read_text
from .bake import bake_texture, vertex_albedo
from .cleanup import drop_small_components, smooth
from .decimate import decimate
from .density_grid import GRID_FILE, DensityGrid, PointFunction, load_grid, sample_field, save_grid, surface_level
from .extract import extract_surface
from .file_format import MeshData, srgb_to_linear
from .hidden_voids import fill_hidden_voids
from .outputs import TEXTURE_FILE, write_mesh_files
from .uv_atlas import unwrap

Progress = Callable[[str, float], None]  # (stage "mesh" | "refine" | "bake" | "export", fraction of that stage)
# (vertices, faces, albedo at the vertices, progress 0..1) -> moved vertices: engine/refinement/refine.py's MeshRefiner
Refine = Callable[[np.ndarray, np.ndarray, np.ndarray, Callable[[float], None]], np.ndarray]
SAMPLING_SHARE = 0.8  # of the "mesh" stage, when the field is sampled first


@dataclass
class ExportResult:
    """The files written (absolute paths; None where not asked for) and what the mesh came out as."""

    mesh_npz: Path
    glb: Path | None
    obj: Path | None
    texture: Path | None
    vertices: int
    faces: int
    threshold: float
    components_dropped: int


def export_run(
    density_fn: PointFunction,
    albedo_fn: PointFunction,
    config: MeshConfig,
    bound: float,
    run_dir: Path,
    progress: Progress | None = None,
    surface_density: float | None = None,
    refine: Refine | None = None,
) -> ExportResult:
    """Sample density (N,3)->(N,) and albedo (N,3)->(N,3) over [-bound, bound]^3 into the run's
    density grid, then extract, clean, decimate, bake and write the mesh files from it. A field that
    defines its surface passes its ``surface_density``; it is kept in the grid, so remesh uses it too."""
    check(config, "mesh.")  # settings that cannot work are refused before any time is spent
    report = progress or _silent
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    grid = sample_field(
        density_fn,
        albedo_fn,
        config.grid_resolution,
        bound,
        lambda f: report("mesh", SAMPLING_SHARE * f),
        surface_density,
    )
    save_grid(run_dir / GRID_FILE, grid)
    return _mesh_from_grid(run_dir, config.threshold, config, report, SAMPLING_SHARE, refine)


def remesh_run(
    run_dir: Path,
    threshold: float | None,
    config: MeshConfig | None = None,
    progress: Progress | None = None,
    refine: Refine | None = None,
) -> ExportResult:
    """Re-extract from the run's stored grid at ``threshold`` (None: the config's, else the grid's own surface
    level, else automatic),
    replacing the run's mesh files only once the new ones are complete. ``config`` None reads the
    run's config.json; its grid_resolution is unused (the stored grid's resolution is what there is)."""
    run_dir = Path(run_dir)
    config = load_mesh_config(run_dir) if config is None else config
    check(config, "mesh.")  # settings that cannot work are refused before any time is spent
    level = config.threshold if threshold is None else threshold
    return _mesh_from_grid(run_dir, level, config, progress or _silent, 0.0, refine)


def load_mesh_config(run_dir: Path) -> MeshConfig:
    """The "mesh" section of the run's config.json, checked, or the defaults when the run has none."""
    return _run_section(run_dir, "mesh", MeshConfig)


def lowest_camera_elevation(run_dir: Path) -> float:
    """The lowest elevation the run's training cameras took (degrees): what the hidden-void fill may assume."""
    return _run_section(run_dir, "camera", CameraConfig).elevation_range_deg[0]


def _run_section(run_dir: Path, name: str, cls: type) -> Any:
    """One section of the run's config.json as ``cls``, checked; ``cls``'s defaults when the run has none."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return cls()
    try:
        data = json.loads(read_text(path))
        section = data.get(name, {}) if isinstance(data, dict) else data
        return from_dict(cls, section, f"{name}.")
    except (OSError, ValueError, ConfigError) as exc:
        message = f"the {name} settings in {path} are unusable ({exc}); fix or delete that file"
        raise EngineError(message, "input") from exc


def surface_mesh(
    grid: DensityGrid, level: float, config: MeshConfig, lowest_elevation_deg: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """The grid's surface at ``level``, voids hidden from cameras at ``lowest_elevation_deg`` and above filled,
    floaters dropped, smoothed and decimated to the config's face budget: (vertices, faces, components dropped)."""
    density = grid.density
    if config.fill_hidden_voids:
        density, _ = fill_hidden_voids(density, level, lowest_elevation_deg)
    vertices, faces = extract_surface(density, grid.bound, level)
    vertices, faces, dropped = drop_small_components(vertices, faces, config.min_component_fraction)
    vertices = smooth(vertices, faces, config.smooth_iterations)
    vertices, faces = decimate(vertices, faces, config.face_budget)
    return vertices, faces, dropped


def _mesh_from_grid(
    run_dir: Path,
    threshold: float | None,
    config: MeshConfig,
    report: Progress,
    mesh_start: float,
    refine: Refine | None = None,
) -> ExportResult:
    report("mesh", mesh_start)
    grid = load_grid(run_dir / GRID_FILE)
    level = surface_level(grid) if threshold is None else float(threshold)
    vertices, faces, dropped = surface_mesh(grid, level, config, lowest_camera_elevation(run_dir))
    report("mesh", 1.0)
    if refine is not None:
        vertices = refine(vertices, faces, vertex_albedo(grid, vertices), lambda f: report("refine", f))
    report("bake", 0.0)
    colors = srgb_to_linear(vertex_albedo(grid, vertices))
    uvs = texture = None
    if config.bake == "uv":
        uvs = unwrap(vertices, faces, config.texture_size)
        report("bake", 0.5)
        texture = bake_texture(grid, vertices, faces, uvs, config.texture_size)
    report("bake", 1.0)
    report("export", 0.0)
    mesh = MeshData(vertices, faces, colors, uvs, TEXTURE_FILE if texture is not None else None)
    files = write_mesh_files(run_dir, mesh, texture, config.formats)
    report("export", 1.0)
    return ExportResult(
        mesh_npz=files.mesh_npz,
        glb=files.glb,
        obj=files.obj,
        texture=files.texture,
        vertices=len(vertices),
        faces=len(faces),
        threshold=level,
        components_dropped=dropped,
    )


def _silent(stage: str, fraction: float) -> None:
    """The progress callback when the caller wants none."""
