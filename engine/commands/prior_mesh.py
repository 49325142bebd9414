"""``python -m engine prior-mesh --prompt P --out FILE.glb``: the procedural prior's ground truth.

Writes the scene the prompt describes as a mesh with per-vertex albedo, in the coordinates of the
engine's results (``.glb``, or the Blender-ready ``.npz``), and reports it as one ``result`` event.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import protocol
from ..errors import EngineError
from ..mesh.file_format import write_npz
from ..mesh.interchange import write_glb
from ..procedural.ground_truth import scene_mesh
from ..procedural.scene import Scene

HELP = "Write the ground-truth mesh of a procedural prompt (.glb or Blender-ready .npz)."

_WRITERS = {".glb": write_glb, ".npz": write_npz}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", required=True, help="e.g. 'a red cube on top of a blue sphere'")
    parser.add_argument("--out", required=True, type=Path, help="FILE.glb or FILE.npz")
    parser.add_argument("--resolution", type=int, default=128, help="marching-cubes grid size (default 128)")


def run(args: argparse.Namespace) -> int:
    writer = _WRITERS.get(args.out.suffix.lower())
    if writer is None:
        raise EngineError(f"--out must end in .glb or .npz, not {args.out.name!r}", "input")
    if not 16 <= args.resolution <= 512:
        raise EngineError("--resolution must be between 16 and 512", "input")
    if not args.out.parent.is_dir():
        raise EngineError(f"the folder {args.out.parent} does not exist; create it or choose another --out", "output")
    scene = Scene.from_prompt(args.prompt)
    mesh = scene_mesh(scene, args.resolution)
    try:
        writer(args.out, mesh)
    except OSError as exc:
        raise EngineError(f"cannot write {args.out}: {exc.strerror or exc}", "output") from exc
    protocol.emit(
        protocol.RESULT,
        path=str(args.out.resolve()),
        prompt=scene.spec.text,
        vertices=len(mesh.vertices),
        faces=len(mesh.faces),
        objects=[
            {"shape": spec.shape, "color": spec.color, "center": placed.offset, "scale": placed.scale}
            for spec, placed in zip(scene.spec.objects, scene.objects, strict=True)
        ],
    )
    return 0
