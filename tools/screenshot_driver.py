"""Runs inside a windowed Blender (tools/screenshots.py starts it): installs the extension, drives its panels through
every state an artist meets and takes a picture of each with ImageMagick's ``import -window root``.

    blender --python screenshot_driver.py -- EXTENSION_ZIP ENGINE_PYTHON OUT_DIR

A scenario is a generator run by a timer, so Blender keeps drawing between its steps; it yields a number (wait
that many seconds) or a condition (wait until it holds). Text is set from Python: xdotool's clicks reach Blender
under Xvfb, its keystrokes do not reach text fields. Engine runs are short (the fast preset, a few steps).
"""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import bpy
from mathutils import Euler, Vector

PACKAGE = "bl_ext.user_default.dreamfusion"
STEPS = 120  # the fast preset's runs, cut short: pictures, not results
REST = (8, 990)  # where the pointer rests between clicks: the status bar, which shows no hover
CONDITION_TIMEOUT_S = 400.0
Step = float | Callable[[], bool]

ZIP, ENGINE_PYTHON, OUT = (Path(arg) for arg in sys.argv[sys.argv.index("--") + 1 :][:3])


def addon(module: str = "") -> object:
    return importlib.import_module(f"{PACKAGE}.{module}" if module else PACKAGE)


def runs() -> object:
    return addon("runtime").RUNS


def settings() -> object:
    return bpy.context.scene.dreamfusion


def view3d() -> tuple[bpy.types.Window, bpy.types.Area]:
    window = bpy.context.window_manager.windows[0]
    area = next(area for area in window.screen.areas if area.type == "VIEW_3D")
    return window, area


def sidebar() -> bpy.types.Region:
    return next(region for region in view3d()[1].regions if region.type == "UI")


def redraw() -> None:
    """Blender under Xvfb gets no events, so nothing redraws unless asked."""
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            area.tag_redraw()


def shot(name: str, crop: str = "view3d") -> Iterator[Step]:
    """The screen as OUT/name.png, once redrawn: the 3D Viewport with its sidebar (``crop="view3d"``), or the
    whole screen."""
    redraw()
    yield 1.5
    redraw()
    yield 0.5
    window, area = view3d()
    command = ["import", "-window", "root"]
    if crop == "view3d":
        top = window.height - (area.y + area.height)
        command += ["-crop", f"{area.width}x{area.height}+{area.x}+{top}", "+repage"]
    subprocess.run([*command, str(OUT / f"{name}.png")], check=True)
    print(f"screenshot {name}.png; sidebar {sidebar().width} px wide", flush=True)


def to_screen(area: bpy.types.Area, x: float, y: float) -> tuple[int, int]:
    """A point of ``area`` (pixels from its top left) on the X screen (pixels from the screen's top left)."""
    window = view3d()[0]
    return int(area.x + x), int(window.height - (area.y + area.height) + y)


def click(x: int, y: int) -> None:
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=True)


def hover(x: int, y: int) -> None:
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)


def scroll_sidebar(down: bool) -> None:
    """Scroll the sidebar to its end (History, Queue) or back to its top."""
    window, area = view3d()
    with bpy.context.temp_override(window=window, area=area, region=sidebar()):
        for _ in range(30):
            if down:
                bpy.ops.view2d.scroll_down(deltay=100)
            else:
                bpy.ops.view2d.scroll_up(deltay=100)


def frame_object(shading: str) -> None:
    """Look at the active object from the front right, a little above, in ``shading`` ("SOLID", "MATERIAL")."""
    area = view3d()[1]
    space = area.spaces[0]
    space.shading.type = shading
    obj = bpy.context.view_layer.objects.active
    view = space.region_3d
    view.view_location = obj.matrix_world @ (sum((Vector(corner) for corner in obj.bound_box), Vector()) / 8)
    view.view_rotation = Euler((math.radians(65), 0.0, math.radians(35))).to_quaternion()
    view.view_distance = 3.2 * max(obj.dimensions)


def run_finished() -> bool:
    return not runs().busy()


def generate(prompt: str) -> None:
    settings().prompt = prompt
    bpy.ops.dreamfusion.generate()


def setup() -> Iterator[Step]:
    click(200, 600)  # the splash screen of a first start closes on a click outside it
    yield 1.0
    bpy.ops.extensions.package_install_files(filepath=str(ZIP), repo="user_default", enable_on_install=True)
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.engine_python = str(ENGINE_PYTHON)
    prefs.device = "cpu"
    for obj in list(bpy.data.objects):
        if obj.type == "MESH":
            bpy.data.objects.remove(obj)
    area = view3d()[1]
    area.spaces[0].show_region_ui = True
    yield 1.0
    sidebar().active_panel_category = "DreamFusion"
    area.tag_redraw()
    yield 1.0
    print(f"sidebar tab: {sidebar().active_panel_category}", flush=True)
    scene_settings = settings()
    scene_settings.prompt = "a red cube"
    scene_settings.preset = "fast"
    scene_settings.steps = STEPS
    scene_settings.preview_every = 10
    yield 1.0


def preferences_check() -> Iterator[Step]:
    bpy.ops.preferences.addon_show(module=PACKAGE)
    yield 1.0
    # the preferences window opens small; without a window manager, X moves and resizes it as asked
    found = subprocess.run(["xdotool", "search", "--name", "Preferences"], capture_output=True, text=True)
    for window_id in found.stdout.split():
        subprocess.run(["xdotool", "windowmove", window_id, "0", "0", "windowsize", window_id, "1000", "990"])
    print(f"preferences windows: {found.stdout.split()}", flush=True)
    yield 1.0
    bpy.ops.dreamfusion.check_engine()
    setup_slot = addon("runtime").SETUP
    yield lambda: not setup_slot.busy()
    bpy.ops.dreamfusion.refresh_models()
    yield lambda: not setup_slot.busy()
    yield 1.5
    yield from shot("preferences", crop="screen")
    windows = bpy.context.window_manager.windows
    for window in list(windows)[1:]:
        with bpy.context.temp_override(window=window):
            bpy.ops.wm.window_close()
    yield 1.0


def run_cube() -> Iterator[Step]:
    generate("a red cube")
    yield lambda: runs().state() is not None and runs().state().step >= STEPS // 2 and runs().state().preview_path
    yield from shot("running")
    yield lambda: runs().state().stage in ("turntable", "mesh", "bake") or not runs().busy()
    yield from shot("meshing")
    yield run_finished
    frame_object("SOLID")
    yield from shot("finished-solid")
    frame_object("MATERIAL")
    yield 5.0
    yield lambda: not bpy.app.is_job_running("SHADER_COMPILATION")  # EEVEE compiles its shaders on the CPU
    yield 5.0
    yield from shot("finished-material-preview")
    frame_object("SOLID")


def cancel_a_run() -> Iterator[Step]:
    generate("a blue sphere on top of a red cube")
    yield lambda: runs().state() is not None and runs().state().step >= 30
    bpy.ops.dreamfusion.cancel()
    yield run_finished
    yield from shot("cancelled")
    scroll_sidebar(down=True)
    yield from shot("history")
    scroll_sidebar(down=False)


def unknown_prompt() -> Iterator[Step]:
    generate("a flying carpet")
    yield run_finished
    yield from shot("error")


def queue() -> Iterator[Step]:
    text = '{"prompt": "a green cone", "steps": 60}\na flying carpet\na yellow duck\n'
    bpy.ops.dreamfusion.queue_paste(text=text)
    bpy.ops.dreamfusion.queue_run()
    items = settings().queue
    yield lambda: items[2].status == "running" and runs().state() is not None and runs().state().step >= 5
    bpy.ops.dreamfusion.cancel()
    yield run_finished
    settings().queue_index = 1
    scroll_sidebar(down=True)
    yield from shot("queue")


def idle() -> Iterator[Step]:
    yield from shot("idle")


def advanced() -> Iterator[Step]:
    """The Advanced sub-panel opened by a click on its header (where the idle panel draws it), a learned prior
    chosen, and the guidance field's tooltip (the mouse resting on it). Advanced stays open in later pictures,
    its learned-prior switches greyed out for the procedural prior."""
    area = view3d()[1]
    click(*to_screen(area, 1103, 350))
    settings().prior = "stable-diffusion"
    yield 1.0
    hover(*to_screen(area, 1165, 281))
    yield 2.5
    yield from shot("advanced", crop="screen")  # the tooltip reaches past the viewport
    hover(*REST)  # a pointer left on the sidebar highlights what later states draw there
    settings().prior = "DEFAULT"
    yield 1.0


def scenario() -> Iterator[Step]:
    for part in (setup, idle, advanced, preferences_check, run_cube, cancel_a_run, unknown_prompt, queue):
        print(f"-- {part.__name__}", flush=True)
        yield from part()


class Runner:
    """Steps the scenario from a timer; quits Blender at its end or at the first failure."""

    def __init__(self, steps: Iterator[Step]) -> None:
        self.steps = steps
        self.waiting: Callable[[], bool] | None = None
        self.deadline = 0.0

    def __call__(self) -> float | None:
        try:
            if self.waiting is not None:
                if not self.waiting():
                    if time.monotonic() > self.deadline:
                        raise TimeoutError(f"waited {CONDITION_TIMEOUT_S:.0f} s; the run: {runs().state()}")
                    return 0.25
                self.waiting = None
            step = next(self.steps)
        except StopIteration:
            return self.quit(0)
        except Exception:
            traceback.print_exc()
            return self.quit(1)
        if callable(step):
            self.waiting, self.deadline = step, time.monotonic() + CONDITION_TIMEOUT_S
            return 0.25
        return float(step)

    @staticmethod
    def quit(code: int) -> None:
        """Quit Blender (which stops any engine run); a failure leaves OUT/FAILED for tools/screenshots.py."""
        if code:
            (OUT / "FAILED").write_text("see Blender's output\n")
        bpy.ops.wm.quit_blender()


bpy.app.timers.register(Runner(scenario()), first_interval=3.0)
