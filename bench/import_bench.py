"""How long Blender takes to import a 300k-triangle ``mesh.npz`` through the add-on's builder.

    .venv/bin/python -m bench.import_bench [--triangles 300000] [--repeats 5]

Runs the add-on's own ``scene.mesh_import`` in the bpy module (the repository imported as its package,
without registration). Times, per repeat: reading the npz (``read_npz``), building the mesh with
``foreach_set`` (color attribute, material, smooth shading), and the whole import (read, build, object
at the cursor); and, for reference, Blender's ``from_pydata`` with Python lists. Target (bench/targets.py): the
whole import's median under a bar. Prints a table and writes bench/results/import_bench.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

from engine.mesh.file_format import MeshData, read_npz, write_npz
from tools.addon_package import source_package

from .import_bench_results import ImportPayload, Timing
from .results_file import IMPORT, RESULTS_DIR, Envelope, Results, write_results
from .targets import target

# The add-on's scene modules import the engine relatively, as inside Blender: the repository as its package, whose
# engine is the one imported above (tools/addon_package.py).
source_package("dreamfusion")
from dreamfusion.scene.material import new_albedo_material  # noqa: E402
from dreamfusion.scene.mesh_import import build_mesh, import_mesh_file  # noqa: E402

IMPORT_TOTAL = target("import-total")


def torus(triangles: int):
    """A closed torus with about ``triangles`` triangles and smoothly varying colors (no poles, no slivers)."""
    around = max(3, round((triangles / 2 * 5 / 3) ** 0.5))  # ring segments : tube segments = 5 : 3
    tube = max(3, triangles // (2 * around))
    angles = np.linspace(0, 2 * np.pi, around, endpoint=False), np.linspace(0, 2 * np.pi, tube, endpoint=False)
    u, v = np.meshgrid(*angles)
    u, v = u.ravel(), v.ravel()
    vertices = np.stack([(0.5 + 0.2 * np.cos(v)) * np.cos(u), (0.5 + 0.2 * np.cos(v)) * np.sin(u), 0.2 * np.sin(v)], 1)
    i, j = np.meshgrid(np.arange(around), np.arange(tube))
    a = (j * around + i).ravel()
    b = (j * around + (i + 1) % around).ravel()
    c = (((j + 1) % tube) * around + (i + 1) % around).ravel()
    d = (((j + 1) % tube) * around + i).ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    colors = np.concatenate([(vertices - vertices.min(0)) / np.ptp(vertices, 0), np.ones((len(vertices), 1))], 1)
    return MeshData(vertices=vertices, faces=faces, colors=colors)


def from_pydata_seconds(mesh) -> float:
    started = time.perf_counter()
    data = bpy.data.meshes.new("from_pydata")
    data.from_pydata(mesh.vertices.tolist(), [], mesh.faces.tolist())
    data.update()
    seconds = time.perf_counter() - started
    bpy.data.meshes.remove(data)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--triangles", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    mesh = torus(args.triangles)
    timings: dict[str, list[float]] = {"read_npz": [], "build_mesh": [], "import_total": [], "from_pydata": []}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mesh.npz"
        write_npz(path, mesh)
        for _ in range(args.repeats):
            started = time.perf_counter()
            data = read_npz(path)
            timings["read_npz"].append(time.perf_counter() - started)

            material = new_albedo_material("bench")
            started = time.perf_counter()
            built = build_mesh("bench", data, material)
            timings["build_mesh"].append(time.perf_counter() - started)
            assert len(built.polygons) == len(mesh.faces) and len(built.vertices) == len(mesh.vertices)
            bpy.data.meshes.remove(built)
            bpy.data.materials.remove(material)

            started = time.perf_counter()
            obj = import_mesh_file(bpy.context, path, "bench", 1.0)
            timings["import_total"].append(time.perf_counter() - started)
            mesh_data, obj_material = obj.data, obj.data.materials[0]
            bpy.data.objects.remove(obj)
            bpy.data.meshes.remove(mesh_data)
            bpy.data.materials.remove(obj_material)

            timings["from_pydata"].append(from_pydata_seconds(mesh))

    summary = {name: Timing(statistics.median(values), min(values)) for name, values in timings.items()}
    result = ImportPayload(
        triangles=len(mesh.faces),
        vertices=len(mesh.vertices),
        repeats=args.repeats,
        target_s=IMPORT_TOTAL.threshold,
        meets_target=IMPORT_TOTAL.met(summary["import_total"].median_s),
        blender=bpy.app.version_string,
        timings=summary,
    )
    print(f"import of a {result.triangles:,}-triangle, {result.vertices:,}-vertex mesh.npz "
          f"(bpy {result.blender}, {args.repeats} repeats)")  # fmt: skip
    print(f"{'step':<14}{'median s':>10}{'min s':>10}")
    for name, values in summary.items():
        print(f"{name:<14}{values.median_s:>10.3f}{values.min_s:>10.3f}")
    print(f"target: {IMPORT_TOTAL.text()} -> {'met' if result.meets_target else 'NOT met'}")
    path = RESULTS_DIR / IMPORT.name
    print(f"wrote {write_results(path, Results(Envelope.now(IMPORT.kind), result.to_json()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
