"""The queue through the installed extension's operators, the fake engine as a real process: prompts in (typed,
pasted, from a file), run one after another through the one run slot, each result an asset of the "DreamFusion"
collection with its preview as the thumbnail; a cancel stops the queue there and the next run continues it."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType, SimpleNamespace

import bpy
import numpy as np
import pytest

from tests.addon.addon_harness import PACKAGE, assert_process_gone, configure, pump_until, run_to_end, runs
from tests.addon.strict_layout import Drawing, StrictLayout
from tests.fixtures import fake_engine

STEPS = 6
PREVIEW_EVERY = 2


def queue() -> bpy.types.bpy_prop_collection:
    return bpy.context.scene.dreamfusion.queue


def statuses() -> list[str]:
    return [item.status for item in queue()]


def started_events(run_dir: str) -> list[dict]:
    lines = (Path(run_dir) / "log.jsonl").read_text().splitlines()
    return [event for event in map(json.loads, lines) if event["event"] == "started"]


def queue_panels() -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.panels.queue")


def draw_queue_panel() -> Drawing:
    layout = StrictLayout()
    queue_panels().DREAMFUSION_PT_queue.draw(SimpleNamespace(layout=layout), bpy.context)
    return layout.drawing


def preview_pixels(obj: bpy.types.Object) -> np.ndarray:
    """The asset thumbnail's RGB, rows top-down (as the PNG's)."""
    width, height = obj.preview.image_size
    pixels = np.empty(width * height * 4, np.float32)
    obj.preview.image_pixels_float.foreach_get(pixels)
    return pixels.reshape(height, width, 4)[::-1, :, :3]


def test_the_queue_runs_two_prompts_and_imports_both_as_assets(addon, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path), "a red cube", steps=STEPS, preview_every=PREVIEW_EVERY, size=2.0)
    assert bpy.ops.dreamfusion.queue_add() == {"FINISHED"}
    assert bpy.ops.dreamfusion.queue_paste(text='{"prompt": "a blue sphere", "seed": 7}\n') == {"FINISHED"}
    assert [(item.prompt, item.entry().summary()) for item in queue()] == [
        ("a red cube", ""),
        ("a blue sphere", "seed 7"),
    ]

    assert bpy.ops.dreamfusion.queue_run() == {"FINISHED"}
    assert statuses() == ["running", "queued"]
    state = run_to_end()
    assert state.status == "done" and statuses() == ["done", "done"], [item.message for item in queue()]
    assert not runs().busy()

    scene = bpy.context.scene
    collection = bpy.data.collections["DreamFusion"]
    assert collection.name in scene.collection.children
    objects = [item.object for item in queue()]
    assert [obj.name for obj in objects] == ["a red cube", "a blue sphere"]
    assert sorted(collection.objects, key=lambda obj: obj.name) == sorted(objects, key=lambda obj: obj.name)
    expected = fake_engine.preview_pixels(STEPS, STEPS) / 255.0  # the last preview: step 6 of 6
    for obj, item in zip(objects, queue(), strict=True):
        assert obj.asset_data is not None and obj.asset_data.description == item.prompt
        assert "DreamFusion" in obj.asset_data.tags
        assert tuple(obj.preview.image_size) == fake_engine.PREVIEW_SIZE
        np.testing.assert_allclose(preview_pixels(obj), expected, atol=1 / 255)
        assert max(obj.dimensions) == pytest.approx(2.0)
    assert objects[1].location.x - objects[0].location.x == pytest.approx(3.0), "side by side, 1.5 sizes apart"

    history = scene.dreamfusion.history
    assert [(record.prompt, record.seed, record.object) for record in history] == [
        ("a red cube", 0, objects[0]),
        ("a blue sphere", 7, objects[1]),
    ]
    assert json.loads((Path(queue()[1].run_dir) / "config.json").read_text())["seed"] == 7, "the line's seed ran"

    saved = tmp_path / "props.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(saved))
    bpy.ops.wm.open_mainfile(filepath=str(saved))
    reopened = sorted(bpy.data.collections["DreamFusion"].objects, key=lambda obj: obj.name)
    assert [obj.name for obj in reopened] == ["a blue sphere", "a red cube"]
    for obj in reopened:  # what the Asset Browser lists from the file: marked, with the thumbnail kept
        assert obj.asset_data is not None and tuple(obj.preview.image_size) == fake_engine.PREVIEW_SIZE
        np.testing.assert_allclose(preview_pixels(obj), expected, atol=1 / 255)


@pytest.mark.slow  # three fake runs of 30 steps, a cancel and a resume: 11 s under load
def test_a_cancel_stops_the_queue_there_and_the_next_run_continues_it(addon, tmp_path: Path) -> None:
    launcher = fake_engine.write_launcher(tmp_path, "--step-seconds", "0.05", "--pid-file", str(tmp_path / "pid"))
    configure(launcher, steps=30, preview_every=5)
    bpy.ops.dreamfusion.queue_paste(text="a red cube\na blue sphere\na green cone\n")
    bpy.ops.dreamfusion.queue_run()
    pump_until(lambda state: statuses()[1] == "running" and state.step >= 3)
    assert statuses() == ["done", "running", "queued"]
    draw = draw_queue_panel()
    assert "dreamfusion.cancel" in draw.operators() and "dreamfusion.queue_run" not in draw.operators()

    assert bpy.ops.dreamfusion.cancel() == {"FINISHED"}
    state = run_to_end(timeout=10.0)
    assert state.status == "cancelled" and not runs().busy()
    assert_process_gone(int((tmp_path / "pid").read_text()))
    assert statuses() == ["done", "cancelled", "queued"], "the rest stay queued"
    stopped = queue()[1]
    assert stopped.message.startswith("Cancelled at step") and stopped.message.endswith("Run Queue continues it")
    assert len(bpy.data.collections["DreamFusion"].objects) == 1

    run_dir = stopped.run_dir
    assert bpy.ops.dreamfusion.queue_run() == {"FINISHED"}
    assert run_to_end().status == "done"
    assert statuses() == ["done", "done", "done"]
    assert queue()[1].run_dir == run_dir
    assert [event["resumed"] for event in started_events(run_dir)] == [False, True], "continued its checkpoint"
    assert len(bpy.data.collections["DreamFusion"].objects) == 3


def test_a_cancelled_learned_run_continues_in_low_memory_once_it_is_turned_on(addon, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--step-seconds", "0.05"), steps=30, prior="stable-diffusion")
    bpy.ops.dreamfusion.queue_paste(text="a red cube\n")
    bpy.ops.dreamfusion.queue_run()
    pump_until(lambda state: state.step >= 2)
    bpy.ops.dreamfusion.cancel()
    run_to_end(timeout=10.0)
    bpy.context.scene.dreamfusion.low_memory = True
    assert bpy.ops.dreamfusion.queue_run() == {"FINISHED"}
    assert run_to_end().status == "done"
    run_dir = Path(queue()[0].run_dir)
    assert [event["resumed"] for event in started_events(str(run_dir))] == [False, True]
    assert json.loads((run_dir / "config.json").read_text())["low_memory"] is True


def test_a_failing_prompt_fails_alone_and_can_be_retried(addon, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--fail-on", "banana"), steps=3)
    bpy.ops.dreamfusion.queue_paste(text="a red cube\na flying banana\na blue sphere\n")
    bpy.ops.dreamfusion.queue_run()
    run_to_end()
    assert statuses() == ["done", "failed", "done"]
    assert queue()[1].message == "The prompt has no word the prior knows", "as a sentence"
    bpy.context.scene.dreamfusion.queue_index = 1
    failed = [c for c in draw_queue_panel().of("label") if c.alert]
    assert " ".join(c.args["text"] for c in failed) == queue()[1].message, "the reason, in red"

    with pytest.raises(RuntimeError, match="Only a failed prompt can be retried; this one is done"):
        bpy.ops.dreamfusion.queue_retry(index=0)
    assert bpy.ops.dreamfusion.queue_retry(index=1) == {"FINISHED"}
    assert statuses() == ["done", "queued", "done"] and queue()[1].run_dir == ""
    assert bpy.ops.dreamfusion.queue_clear_done() == {"FINISHED"}
    assert [item.prompt for item in queue()] == ["a flying banana"]


def test_an_item_saved_as_running_is_settled_when_the_queue_runs(addon, tmp_path: Path) -> None:
    """A file saved while the queue ran, opened again: nothing runs that item, so it shows and runs as cancelled."""
    configure(fake_engine.write_launcher(tmp_path), steps=2)
    bpy.ops.dreamfusion.queue_paste(text="a red cube\n")
    queue()[0].status = "running"
    assert "1 cancelled" in draw_queue_panel().texts()
    row = StrictLayout()
    queue_panels().DREAMFUSION_UL_queue.draw_item(None, bpy.context, row, None, queue()[0], 0, None, "", 0)
    assert [(c.args["text"], c.args.get("icon")) for c in row.drawing.of("label")] == [("a red cube", "PAUSE")]
    assert "Cancelled: a red cube" in draw_queue_panel().texts(), "the selected item's status, in words"
    assert bpy.ops.dreamfusion.queue_run() == {"FINISHED"}
    run_to_end()
    assert statuses() == ["done"]


def test_what_cannot_be_queued_or_run_is_refused_in_plain_words(addon, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--step-seconds", "0.05"), "   ", steps=1000)
    with pytest.raises(RuntimeError, match="Type a prompt first"):
        bpy.ops.dreamfusion.queue_add()
    with pytest.raises(RuntimeError, match="The pasted text, line 2: not valid JSON"):
        bpy.ops.dreamfusion.queue_paste(text="a red cube\n{oops\n")
    with pytest.raises(RuntimeError, match="preset must be one of fast, balanced, quality, not 'ultra'"):
        bpy.ops.dreamfusion.queue_paste(text='{"prompt": "a red cube", "preset": "ultra"}')
    with pytest.raises(RuntimeError, match="clipboard holds no text"):
        bpy.ops.dreamfusion.queue_paste()  # headless Blender's clipboard is empty
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.dreamfusion.queue_load(filepath=str(tmp_path / "nope.txt"))
    with pytest.raises(RuntimeError, match="Nothing is queued"):
        bpy.ops.dreamfusion.queue_run()
    assert len(queue()) == 0, "a mistake adds nothing"

    prompts = tmp_path / "props.txt"
    prompts.write_text('# level 3\na red cube\n{"prompt": "a yellow duck", "preset": "fast", "steps": 400}\n')
    assert bpy.ops.dreamfusion.queue_load(filepath=str(prompts)) == {"FINISHED"}
    assert [(i.prompt, i.entry().summary()) for i in queue()] == [
        ("a red cube", ""),
        ("a yellow duck", "fast, 400 steps"),
    ]

    bpy.ops.dreamfusion.queue_run()
    with pytest.raises(RuntimeError, match="cancel it first"):
        bpy.ops.dreamfusion.queue_remove(index=0)
    with pytest.raises(RuntimeError, match="A run is already going"):
        bpy.ops.dreamfusion.queue_run()
    with pytest.raises(RuntimeError, match="A run is already going"):
        bpy.ops.dreamfusion.generate()
    assert bpy.ops.dreamfusion.queue_remove(index=1) == {"FINISHED"}, "a waiting prompt can go"
    bpy.ops.dreamfusion.cancel()
    run_to_end(timeout=10.0)
    assert statuses() == ["cancelled"]


def test_the_idle_queue_panel_offers_the_ways_in(addon) -> None:
    drawing = draw_queue_panel()
    operators = drawing.operators()
    for name in ("queue_add", "queue_paste", "queue_load", "import_batch"):
        assert f"dreamfusion.{name}" in operators
    assert "dreamfusion.queue_run" not in operators, "nothing to run yet"
    assert "one after another" in " ".join(drawing.texts()), "what the queue is for (wrapped to the panel)"
