"""Every message the engine and the add-on can show fits the default sidebar, measured with Blender's font metrics.

The messages are read from the source (each error's, report's, failure's and wrapped label's text, a formatted
value standing for a few words), plus the ones whose words are made at run time (the offline prior's vocabulary,
a run's status lines). Each goes through the installed extension's wrapping at the sidebar's default width, with
and without an icon; every line must be no wider than what the region leaves a label, and no word may be lost.
"""

from __future__ import annotations

import ast

import bpy
import pytest

from engine.procedural.prompt import parse_prompt
from tests.addon.addon_harness import ROOT, installed
from tests.addon.strict_layout import StrictLayout
from tests.bridge.test_run_state import event

SOURCES = ("engine", "bridge", "operators", "panels", "runtime", "scene", "preferences.py", "properties.py")
SHOWING_CALLS = {"report", "draw_wrapped", "fail", "label", "show_refused_run", "reject_result"}
# names a sentence is assigned to before it is shown
SHOWN_NAMES = {"message", "error", "sentence", "caption", "status", "refusal", "nothing", "text"}
FORMATTED = "formatted value"  # what an f-string's {...} stands for: a few words


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(part) or FORMATTED for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return None if left is None and right is None else (left or FORMATTED) + (right or FORMATTED)
    return None


def _named(target: ast.expr) -> str:
    return target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")


def _called(node: ast.Call) -> str:
    function = node.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def source_messages() -> list[str]:
    """The sentences a person can be shown, as the source writes them."""
    messages = []
    for source in SOURCES:
        path = ROOT / source
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.Call) and (_called(node).endswith("Error") or _called(node) in SHOWING_CALLS):
                    values = [*node.args, *(k.value for k in node.keywords if k.arg in ("text", "message"))]
                elif isinstance(node, ast.Assign) and any(_named(target) in SHOWN_NAMES for target in node.targets):
                    values = [node.value]
                else:
                    continue
                messages += [text for text in map(_text, values) if text and len(text.split()) > 1]
    return messages


def run_time_messages() -> list[str]:
    """Sentences whose words are made while running: the vocabulary refusal and a run's status lines."""
    with pytest.raises(Exception) as refusal:
        parse_prompt("a flying carpet with tassels")
    run_state = installed("bridge.run_state")
    done, cancelled = run_state.RunState(), run_state.RunState()
    peak = {"device": "cuda", "allocated_bytes": 1, "reserved_bytes": 11_400_000_000}
    done.apply(event("done", run_dir="/r", mesh="/r/mesh.npz", elapsed_s=3725.0, peak_memory=peak))
    done.apply(run_state.ExitMessage(0))
    cancelled.apply(event("cancelled", step=12345, checkpoint="/r/checkpoint"))
    cancelled.apply(run_state.ExitMessage(0))
    skipping = run_state.RunState()
    skipping.apply(event("progress", step=9000, total=10000, loss=None, it_per_s=1.0, eta_s=1.0, skipped_steps=12345))
    request = installed("bridge.command_line")
    long_prompt = "a " * 200
    refused = []
    for prompt in ("   ", long_prompt):
        with pytest.raises(request.RequestError) as error:
            request.checked_prompt(prompt)
        refused.append(str(error.value))
    return [str(refusal.value), done.message, cancelled.message, skipping.skipped_text(), *refused]


def test_every_message_fits_the_default_sidebar(addon) -> None:
    ui_text = installed("ui_text")
    context = bpy.context
    region = ui_text.DEFAULT_SIDEBAR_WIDTH * ui_text.ui_scale(context)
    measure = ui_text.text_measure(context)
    messages = source_messages()
    assert len(messages) > 150, "the scan finds the messages"
    messages += run_time_messages()
    assert any("it knows the shapes" in message for message in messages)
    for icon in (False, True):
        width = ui_text.label_width(context, region, icon)
        too_wide = []
        for message in messages:
            lines = ui_text.wrap(message, width, measure)
            assert "".join("".join(lines).split()) == "".join(message.split()), f"words lost from {message!r}"
            too_wide += [line for line in lines if measure(line) > width]
        assert not too_wide, f"wider than the {width:.0f} px a label has (icon: {icon}): {too_wide[:5]}"


def test_the_measure_is_blenders_and_a_line_that_fits_stays_whole(addon) -> None:
    ui_text = installed("ui_text")
    measure = ui_text.text_measure(bpy.context)
    assert measure("WWWWWWWWWW") > 2 * measure("iiiiiiiiii"), "proportional: the font's own widths, not a count"
    words = "Cancelled at step 240; the checkpoint is kept in the run folder"
    assert ui_text.wrap(words, measure(words), measure) == [words]
    lines = ui_text.wrap(words, measure(words) / 2, measure)
    assert len(lines) == 3 and " ".join(lines) == words
    path = "/home/artist/.config/blender/4.3/extensions/user_default/dreamfusion/runs/20260101-a-red-cube"
    assert "".join(ui_text.wrap(path, 100, measure)) == path, "a path wider than a line is split, not cut"


def test_the_labels_drawn_fit_the_region(addon) -> None:
    """What ``draw_wrapped`` puts into a layout, not only what ``wrap`` returns, fits (the sidebar of bpy's
    context: the default width)."""
    ui_text = installed("ui_text")
    context = bpy.context
    measure = ui_text.text_measure(context)
    for icon in ("NONE", "ERROR"):
        width = ui_text.label_width(context, icon=icon != "NONE")
        for message in run_time_messages():
            layout = StrictLayout()
            ui_text.draw_wrapped(layout, context, message, icon=icon)
            lines = [call.args["text"] for call in layout.drawing.of("label")]
            assert " ".join(lines).split() == message.split()
            assert max(measure(line) for line in lines) <= width, lines
