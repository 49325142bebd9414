"""``./dreamfusion demo "a red cube"``: the whole path an artist takes, in headless Blender.

Builds the extension zip, installs it into a private Blender home (the user's own Blender
settings are never touched), runs the extension's own Generate operator on the offline
procedural prior, imports the result, saves a .blend, and renders the asset with Cycles under
a light it was never optimized for, and its front face up close, gray, under a low light.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "bl_ext.user_default.dreamfusion"
RENDER_SIZE = 512


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dreamfusion demo", description=__doc__.splitlines()[0])
    parser.add_argument("prompt", nargs="?", default="a red cube", help="what to make (default: 'a red cube')")
    parser.add_argument("--preset", choices=("fast", "balanced", "quality"), default="balanced")
    parser.add_argument("--steps", type=int, default=0, help="optimization steps (0: the preset's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: output/<prompt>-<time>)")
    parser.add_argument("--samples", type=int, default=64, help="Cycles samples for the final picture")
    return parser.parse_args(argv)


class ProgressPrinter:
    """A bar rewritten in place on a terminal; on a log, one line per label change at most every 10%."""

    def __init__(self) -> None:
        self.interactive = sys.stdout.isatty()
        self.last_label, self.last_tenth = "", -1

    def __call__(self, state: object, final: bool = False) -> None:
        fraction = float(getattr(state, "progress", 0.0))
        label = state.progress_label()  # type: ignore[attr-defined]
        filled = int(fraction * 30)
        line = f"  [{'#' * filled}{'.' * (30 - filled)}] {label}"
        if self.interactive:
            print(f"\r{line:<100}", end="\n" if final else "", flush=True)
            return
        tenth = int(fraction * 10)
        stage = label.split(" ")[0]
        if final or stage != self.last_label or tenth != self.last_tenth:
            print(line, flush=True)
            self.last_label, self.last_tenth = stage, tenth


def generate(bpy: object, args: argparse.Namespace) -> object:
    """Run the extension's Generate operator and pump its worker until it finishes; returns the run state."""
    settings = bpy.context.scene.dreamfusion  # type: ignore[attr-defined]
    settings.prompt = args.prompt
    settings.prior = "procedural"
    settings.preset = args.preset
    settings.seed = args.seed
    settings.steps = args.steps
    bpy.ops.dreamfusion.generate()  # type: ignore[attr-defined]
    run_manager = importlib.import_module(PACKAGE + ".runtime").RUNS
    show = ProgressPrinter()
    while run_manager.pump():
        show(run_manager.state())
        time.sleep(0.2)
    state = run_manager.state()
    show(state, final=True)
    return state


def world_bounds(obj: object) -> tuple[Any, Any]:
    """The object's bounding box in world space: (lowest, highest) corner, as mathutils Vectors."""
    from mathutils import Vector  # type: ignore[import-not-found]

    corners = [obj.matrix_world @ Vector(corner) for corner in obj.bound_box]  # type: ignore[attr-defined]
    low = Vector([min(c[i] for c in corners) for i in range(3)])
    return low, Vector([max(c[i] for c in corners) for i in range(3)])


def gray_material(bpy: object, name: str, gray: float, roughness: float) -> object:
    """A Principled BSDF material of one gray."""
    material = bpy.data.materials.new(name)  # type: ignore[attr-defined]
    if material.node_tree is None:  # Blender before 5.0
        material.use_nodes = True
    shader = material.node_tree.nodes["Principled BSDF"]
    shader.inputs["Base Color"].default_value = (gray, gray, gray, 1.0)
    shader.inputs["Roughness"].default_value = roughness
    return material


def look_at(body: object, target: Any) -> None:
    """Turn a camera or a light (both look down their -Z) towards ``target``, Z up."""
    body.rotation_euler = (target - body.location).to_track_quat("-Z", "Y").to_euler()  # type: ignore[attr-defined]


def stage_and_render(bpy: object, obj: object, out: Path, samples: int) -> Path:
    """A ground plane, a camera on the front three-quarter view, and a warm key light from the upper
    left plus a cool rim light from behind: lighting the optimization never saw."""
    from mathutils import Vector  # type: ignore[import-not-found]

    scene = bpy.context.scene  # type: ignore[attr-defined]
    data, ops = bpy.data, bpy.ops  # type: ignore[attr-defined]
    low, high = world_bounds(obj)
    centre, size = (low + high) / 2, max((high - low).length, 1e-3)

    ops.mesh.primitive_plane_add(size=size * 20, location=(centre.x, centre.y, low.z))
    ground = bpy.context.active_object  # type: ignore[attr-defined]
    ground.name = "Ground"
    ground.data.materials.append(gray_material(bpy, "Ground", 0.3, 0.5))  # 0.5: the Principled BSDF's default

    def add_light(name: str, kind: str, energy: float, color: tuple[float, float, float], direction: Vector) -> None:
        light = data.lights.new(name, kind)
        light.energy, light.color = energy, color
        if kind == "AREA":
            light.size = size
        body = data.objects.new(name, light)
        body.location = centre + direction.normalized() * size * 2.5
        look_at(body, centre)
        scene.collection.objects.link(body)

    add_light("Key", "AREA", 120.0 * size**2, (1.0, 0.93, 0.85), Vector((-1.0, -0.6, 1.2)))
    add_light("Rim", "AREA", 80.0 * size**2, (0.8, 0.9, 1.0), Vector((0.8, 1.0, 0.6)))
    world = data.worlds.new("World")
    if world.node_tree is None:  # Blender before 5.0
        world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.3
    scene.world = world

    camera = data.objects.new("Camera", data.cameras.new("Camera"))
    azimuth, elevation = math.radians(-35.0), math.radians(20.0)
    direction = Vector(
        (math.sin(azimuth) * math.cos(elevation), -math.cos(azimuth) * math.cos(elevation), math.sin(elevation))
    )
    camera.location = centre + direction * size * 2.2
    look_at(camera, centre)
    scene.collection.objects.link(camera)
    scene.camera = camera

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.render.resolution_x = scene.render.resolution_y = RENDER_SIZE
    scene.render.filepath = str(out / "render.png")
    ops.render.render(write_still=True)
    return out / "render.png"


def render_closeup(bpy: object, obj: object, out: Path, samples: int) -> Path:
    """The mesh's front face up close, gray and under one low light from the side (after ``stage_and_render``,
    whose scene it reuses): what an artist sees of dents and ridges once the color is gone."""
    from mathutils import Vector  # type: ignore[import-not-found]

    scene = bpy.context.scene  # type: ignore[attr-defined]
    data = bpy.data  # type: ignore[attr-defined]
    low, high = world_bounds(obj)
    size = max((high - low).length, 1e-3)
    face = Vector(((low.x + high.x) / 2, low.y, (low.z + high.z) / 2))  # the middle of the front (-Y) side

    bpy.context.view_layer.material_override = gray_material(bpy, "Textureless", 0.6, 0.6)  # type: ignore[attr-defined]
    for light in (body for body in scene.objects if body.type == "LIGHT"):
        light.hide_render = True
    sun = data.objects.new("Grazing", data.lights.new("Grazing", "SUN"))
    sun.data.energy = 4.0
    sun.rotation_euler = Vector((-1.0, -0.35, 0.25)).to_track_quat("Z", "Y").to_euler()  # towards the light
    scene.collection.objects.link(sun)

    camera = scene.camera
    camera.location = face + Vector((0.15, -1.0, 0.25)).normalized() * size * 0.9
    look_at(camera, face)
    scene.cycles.samples = samples
    scene.render.filepath = str(out / "closeup.png")
    bpy.ops.render.render(write_still=True)  # type: ignore[attr-defined]
    return out / "closeup.png"


def write_summary(picture: Path, closeup: Path, run_dir: Path, out: Path, views: int = 4) -> Path:
    """The render, its textureless close-up, and the engine's turntable of the field: ``views`` angles down,
    colored and textureless across."""
    from PIL import Image

    render = Image.open(picture).convert("RGB")
    tile = render.height // views
    summary = Image.new("RGB", (2 * render.width + 2 * tile, render.height), "white")
    summary.paste(render, (0, 0))
    summary.paste(Image.open(closeup).convert("RGB").resize(render.size), (render.width, 0))
    for column, mode in enumerate(("colored", "textureless")):
        frames = sorted((run_dir / "turntable").glob(f"{mode}_*.png"))
        for row, path in enumerate(frames[:: max(len(frames) // views, 1)][:views]):
            frame = Image.open(path).convert("RGB").resize((tile, tile))
            summary.paste(frame, (2 * render.width + column * tile, row * tile))
    path = out / "summary.png"
    summary.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = "".join(c if c.isalnum() else "-" for c in args.prompt.lower()).strip("-")[:40] or "asset"
    out = (args.out or ROOT / "output" / f"{slug}-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    # A private Blender home: the extension installs there, never into the user's own Blender. Caches
    # (the prior's image sets) stay in the user's cache folder, so a second demo reuses them.
    os.environ.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    os.environ["HOME"] = str(out / "blender-home")
    started = time.perf_counter()

    from tools.build_extension import build

    zip_path = build(out / "dist")
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    preferences = bpy.context.preferences.addons[PACKAGE].preferences
    preferences.engine_python = sys.executable  # this environment has the engine's requirements
    preferences.device = "auto"

    print(f"Generating '{args.prompt}' with the procedural prior ({args.preset})...")
    state = generate(bpy, args)
    if str(state.status) != "done":
        print(f"The run did not finish ({state.status}):\n{state.error_report()}", file=sys.stderr)
        return 1
    obj = bpy.context.view_layer.objects.active
    print(f"Imported '{obj.name}': {len(obj.data.vertices)} vertices, {len(obj.data.polygons)} faces")
    print(f"Rendering with Cycles ({args.samples} samples)...")
    picture = stage_and_render(bpy, obj, out, args.samples)
    blend = out / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))  # before the close-up's gray override and grazing light
    closeup = render_closeup(bpy, obj, out, args.samples)
    run_dir = Path(state.run_dir)
    summary = write_summary(picture, closeup, run_dir, out)
    print(
        f"\nDone in {time.perf_counter() - started:.0f} s.\n"
        f"  picture:    {picture}\n  close-up:   {closeup}\n  summary:    {summary}\n"
        f"  scene:      {blend}\n  run folder: {run_dir} "
        f"(mesh.glb, mesh.npz, previews/, turntable/)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
