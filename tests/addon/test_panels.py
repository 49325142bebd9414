"""The sidebar panels and the preferences drawn in every state an artist meets, against Blender's own RNA.

The bpy module has no window to draw into, so each ``draw`` runs against ``StrictLayout``, which refuses
what Blender would refuse (a property or operator that does not exist, an unknown icon, a wrong keyword).
The runs are real: the fake engine is a real process driven through the extension's operators.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict
from pathlib import Path
from types import ModuleType, SimpleNamespace

import bpy
import pytest

from tests.addon.addon_harness import PACKAGE, configure, preferences, pump_until, run_to_end, runs
from tests.addon.strict_layout import Drawing, StrictLayout
from tests.bridge.doctor_reports import doctor_report
from tests.fixtures import fake_engine


def panel(module: str, name: str) -> type:
    return getattr(importlib.import_module(f"{PACKAGE}.panels.{module}"), name)


def draw_panel(module: str, name: str) -> Drawing:
    layout = StrictLayout()
    panel(module, name).draw(SimpleNamespace(layout=layout), bpy.context)
    return layout.drawing


def draw_main() -> Drawing:
    return draw_panel("main", "DREAMFUSION_PT_main")


class PreferencesView:
    """The real preferences with a layout to draw into (Blender gives the real one only while drawing)."""

    def __init__(self, prefs: bpy.types.AddonPreferences, layout: StrictLayout) -> None:
        self.layout = layout
        self._prefs = prefs

    def __getattr__(self, name: str) -> object:
        return getattr(self._prefs, name)


def draw_preferences() -> Drawing:
    prefs = preferences()
    layout = StrictLayout()
    type(prefs).draw(PreferencesView(prefs, layout), bpy.context)
    return layout.drawing


def test_idle_panels_offer_generate_and_the_settings(addon: ModuleType) -> None:
    main = draw_main()
    assert "dreamfusion.generate" in main.operators() and "dreamfusion.cancel" not in main.operators()
    assert {"prompt", "negative_prompt", "prior", "preset", "seed", "guidance_scale"} <= set(main.props())
    assert all(call.enabled for call in main.calls)
    assert not main.of("progress"), "no run yet, so no progress bar"

    advanced = draw_panel("advanced", "DREAMFUSION_PT_advanced")
    assert {"steps", "preview_every", "model", "size"} <= set(advanced.props())
    history = draw_panel("history", "DREAMFUSION_PT_history")
    assert history.texts() == ["Runs of this file appear here"]


def test_a_running_generate_shows_progress_a_preview_and_cancel_with_settings_locked(
    addon: ModuleType, tmp_path: Path
) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--step-seconds", "0.3"), steps=20, preview_every=1)
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    try:
        pump_until(lambda state: state.step >= 2 and bool(state.preview_path))
        main = draw_main()
        (bar,) = main.of("progress")
        assert 0.0 < bar.args["factor"] < 1.0 and bar.args["type"] == "BAR"
        assert "dreamfusion.cancel" in main.operators() and "dreamfusion.generate" not in main.operators()
        settings_calls = [c for c in main.calls if c.function == "prop"]
        assert settings_calls and not any(c.enabled for c in settings_calls), "settings are locked while it runs"
        assert len(main.of("template_icon")) == 1, "the live preview (its icon id is 0 without a window)"
        state = runs().state()
        caption = f"Preview at step {state.preview_step} (full size: image 'DreamFusion Preview')"
        assert caption in " ".join(main.texts()), "wrapped to the sidebar's width"

        advanced = draw_panel("advanced", "DREAMFUSION_PT_advanced")
        assert not any(c.enabled for c in advanced.of("prop"))
    finally:
        bpy.ops.dreamfusion.cancel()
        run_to_end()


def test_a_failed_run_shows_its_error_in_red_and_the_log_on_request(addon: ModuleType, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--behaviour", "crash"), steps=10)
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    state = run_to_end()
    assert state.status == "failed" and state.log_tail

    bpy.context.window_manager.dreamfusion_show_log = False
    main = draw_main()
    alert_text = " ".join(c.args.get("text", "") for c in main.of("label") if c.alert)
    assert alert_text.split() == state.error.split(), "the whole error, wrapped into lines, in red"
    assert "dreamfusion_show_log" in main.props()
    assert not any(c.args.get("text") == state.log_tail[-1] for c in main.of("label"))

    bpy.context.window_manager.dreamfusion_show_log = True
    shown = draw_main().texts()
    assert all(line in shown for line in state.log_tail)
    assert "dreamfusion.generate" in draw_main().operators(), "a new run can start"


def test_the_history_panel_lists_a_finished_run_with_its_actions(addon: ModuleType, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path), steps=4, preview_every=2)
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    assert run_to_end().status == "done"
    assert [c.args.get("icon") for c in draw_main().of("label")].count("CHECKMARK") == 1
    shown = " ".join(draw_main().texts())
    assert "· peak 250.0 MB of RAM" in shown, "the fake engine's peak, as the run reported it, wrapped"

    history = draw_panel("history", "DREAMFUSION_PT_history")
    (listing,) = history.of("template_list")
    assert listing.args["listtype_name"] == "DREAMFUSION_UL_history"
    operators = history.operators()
    for name in ("history_import", "history_open_folder", "history_remove", "remesh"):
        assert operators[f"dreamfusion.{name}"].args["properties"]["index"] == 0
    item = bpy.context.scene.dreamfusion.history[0]
    assert operators["dreamfusion.remesh"].args["properties"]["threshold"] == pytest.approx(item.threshold)
    assert f"{item.created} · Procedural (offline), {item.steps} steps" in " ".join(history.texts())
    assert "dreamfusion.history_resume" not in operators, "a finished run has nothing to resume"

    row = StrictLayout()
    ui_list = panel("history", "DREAMFUSION_UL_history")
    ui_list.draw_item(None, bpy.context, row, None, item, 0, None, "", 0)
    assert [c.args["text"] for c in row.drawing.of("label")] == [item.prompt]


@pytest.fixture
def prefs(addon: ModuleType):
    prefs = preferences()
    yield prefs
    prefs.models.clear()
    prefs.last_check = prefs.model_problems = prefs.default_model = ""
    prefs.device, prefs.default_prior = "auto", "procedural"


def test_preferences_before_the_engine_is_installed(prefs) -> None:
    drawing = draw_preferences()
    assert drawing.operators()["dreamfusion.install_engine"].args["text"] == "Install Engine"
    assert "Click Refresh to list the models on this machine." in drawing.texts()
    assert {"engine_python", "wheels_folder", "model_folders", "default_prior", "device"} <= set(drawing.props())


def test_preferences_show_models_check_problems_and_a_device_fallback(prefs) -> None:
    for name, kind, complete, gated in (
        ("Procedural", "procedural", True, False),
        ("DeepFloyd IF-I-XL", "deepfloyd-if", False, True),
    ):
        item = prefs.models.add()
        item.name, item.model_id, item.kind = name, name.lower(), kind
        item.complete, item.downloadable, item.gated, item.status = complete, not complete, gated, f"{name} status"
    prefs.model_problems = "Cannot read /nowhere"
    report = doctor_report(python="3.11", device=None, device_requested="cuda", device_auto="cpu", problems=["No GPU"])
    prefs.last_check = json.dumps(asdict(report))
    drawing = draw_preferences()

    operators = drawing.operators()
    assert operators["dreamfusion.use_model"].args["text"] == "In Use", "the procedural prior is the default"
    assert operators["dreamfusion.download_model"].args["properties"]["model_id"] == "deepfloyd if-i-xl"
    assert "hf_token" in drawing.props(), "a gated model that is not here asks for a token"
    enums = [c.args["value"] for c in drawing.of("prop_enum")]
    assert enums == ["auto", "cpu"], "a device that is not there offers the fallbacks"
    alerts = {c.args.get("text") for c in drawing.of("label") if c.alert}
    assert {"No GPU", "Cannot read /nowhere"} <= alerts
    assert any("cuda is not available here" in text for text in drawing.texts())


def test_a_stored_check_that_cannot_be_read_says_so_in_red(prefs) -> None:
    prefs.last_check = json.dumps({"python": "3.11"})  # say, from an add-on version with another report
    drawing = draw_preferences()
    alert = " ".join(c.args.get("text", "") for c in drawing.of("label") if c.alert)
    expected = "The last check cannot be read (the doctor result is malformed: ready is missing); click Check Engine."
    assert " ".join(expected.split()) in " ".join(alert.split()), "wrapped into lines, in red"
    assert "dreamfusion.check_engine" in drawing.operators()


def test_the_strict_layout_refuses_what_blender_would() -> None:
    layout = StrictLayout()
    scene_settings = bpy.context.scene
    with pytest.raises(TypeError, match="no property"):
        layout.prop(scene_settings, "no_such_setting")
    with pytest.raises(TypeError, match="not a Blender value"):
        layout.label(text="x", icon="NO_SUCH_ICON")
    with pytest.raises(TypeError, match="no keyword"):
        layout.label(txt="x")
    with pytest.raises(KeyError):
        layout.operator("dreamfusion.no_such_operator")
    with pytest.raises(AttributeError):
        layout.enable = False
    with pytest.raises(AttributeError):
        layout.operator("wm.read_homefile").no_such_property = 1


def test_the_engines_cost_warning_is_shown_while_the_run_goes_on(addon: ModuleType, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--warn-cpu-cost", "--step-seconds", "0.05"), steps=20)
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    try:
        pump_until(lambda state: bool(state.warning) and state.step >= 1)
        main = draw_main()
        warning = [c for c in main.of("label") if c.args.get("icon") == "ERROR"]
        assert warning, "the warning's first line carries the warning icon"
        assert fake_engine.CPU_COST_WARNING in " ".join(main.texts()), "the whole sentence, wrapped"
        assert main.of("progress"), "the run goes on"
    finally:
        bpy.ops.dreamfusion.cancel()
        run_to_end()


def test_skipped_steps_are_shown_under_the_progress_bar_and_after_the_run(addon: ModuleType, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--skip-every", "2", "--step-seconds", "0.05"), steps=20)
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    try:
        pump_until(lambda state: state.step >= 2)
        main = draw_main()
        assert main.of("progress"), "the run goes on"
        skipped = runs().state().skipped_steps
        assert skipped >= 1 and f"Skipped {skipped} non-finite step" in " ".join(main.texts())
    finally:
        run_to_end()
    assert "Skipped 10 non-finite steps" in " ".join(draw_main().texts())


def test_a_run_without_skipped_steps_says_nothing_of_them(addon: ModuleType, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path, "--step-seconds", "0.02"), steps=4)
    assert bpy.ops.dreamfusion.generate() == {"FINISHED"}
    run_to_end()
    assert "non-finite" not in " ".join(draw_main().texts())
