"""Quality presets come from the engine's table; names and run folders from the prompt; run records from runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dreamfusion.bridge.command_line import GenerateRequest
from dreamfusion.bridge.history import RunRecord, discard_empty_run
from dreamfusion.bridge.naming import BLENDER_NAME_BYTES, new_run_dir, object_name, slug
from dreamfusion.bridge.presets import QUALITY_PRESETS, quality_preset, run_summary
from dreamfusion.bridge.run_state import RunState
from dreamfusion.bridge.worker import EventMessage, ExitMessage
from dreamfusion.engine.config import PRESETS, RunConfig, override

from engine.cli import build_parser
from engine.config_assembly import build_config


def test_presets_follow_the_engine_table_in_speed_order() -> None:
    assert [preset.key for preset in QUALITY_PRESETS] == ["fast", "balanced", "quality"]
    for preset in QUALITY_PRESETS:
        config = RunConfig()
        override(config, PRESETS[preset.key])
        resolved = (config.optim.steps, config.mesh.grid_resolution, config.mesh.refine.steps)
        assert (preset.steps, preset.mesh_resolution, preset.refine_steps) == resolved
    assert quality_preset("fast").steps < quality_preset("balanced").steps < quality_preset("quality").steps
    assert quality_preset("fast").description.startswith(f"{quality_preset('fast').steps} optimization steps")


def test_the_run_summary_gives_the_steps_and_grid_the_engine_resolves_for_each_prior() -> None:
    """A learned prior's recipe sets its anchor's step count whatever the preset: the panel says what will run."""
    for prior in ("procedural", "stable-diffusion", "deepfloyd-if"):
        for preset in PRESETS:
            argv = ["generate", "--prompt", "a red cube", "--prior", prior, "--preset", preset]
            config = build_config(build_parser("generate").parse_args(argv))
            expected = f"{config.optim.steps} optimization steps, {config.mesh.grid_resolution}³ mesh grid"
            if config.mesh.refine.steps:
                expected += f", {config.mesh.refine.steps} refinement steps"
            assert run_summary(preset, prior).endswith(expected), (prior, preset)
    assert run_summary("balanced", "procedural").endswith("refinement steps"), "the default refines"
    assert run_summary("fast", "procedural") == f"Fast: {quality_preset('fast').description}"
    assert run_summary("fast", "stable-diffusion").startswith("Fast (recipe dreamfusion-sd): 10000 optimization steps")


def test_object_names_fit_blender_on_a_character_boundary() -> None:
    assert object_name("  a  red\ncube ") == "a red cube"
    long_name = object_name("é" * 40)  # 2 bytes each: 80 bytes
    assert len(long_name.encode("utf-8")) <= BLENDER_NAME_BYTES and long_name == "é" * 31
    assert object_name("   ") == "DreamFusion"


def test_run_folders_are_new_and_safe(tmp_path: Path) -> None:
    when = datetime(2025, 11, 21, 19, 59, 3)
    assert slug("Ein Café/Tisch: *groß*!") == "ein-cafe-tisch-gro"
    first = new_run_dir(tmp_path, "a red cube", when)
    assert first.name == "20251121-195903-a-red-cube" and not first.exists()
    first.mkdir()
    assert new_run_dir(tmp_path, "a red cube", when).name == "20251121-195903-a-red-cube-2"
    assert new_run_dir(tmp_path, "???", when).name == "20251121-195903-run"


def test_a_record_from_a_finished_run(tmp_path: Path) -> None:
    request = GenerateRequest(prompt="a red cube", out=tmp_path / "run", seed=3)
    state = RunState()
    for event in (
        {"event": "started", "run_dir": str(tmp_path / "run"), "total": 50},
        {"event": "preview", "step": 50, "path": str(tmp_path / "run/previews/step_000050.png")},
        {"event": "done", "run_dir": str(tmp_path / "run"), "mesh": str(tmp_path / "run/mesh.npz"),
         "glb": str(tmp_path / "run/mesh.glb"), "elapsed_s": 12.5, "threshold": 7.5},
    ):  # fmt: skip
        state.apply(EventMessage(event))
    state.apply(ExitMessage(0))
    record = RunRecord.from_run(request, state, datetime(2025, 11, 21, 19, 59))
    assert record.created == "2025-11-21 19:59" and record.prompt == "a red cube"
    assert record.mesh.endswith("mesh.npz") and record.thumbnail.endswith("step_000050.png")
    assert (record.steps, record.seed, record.elapsed_s, record.threshold) == (50, 3, 12.5, 7.5)


def test_a_stopped_run_with_a_checkpoint_is_recorded_and_an_empty_folder_is_discarded(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    request = GenerateRequest(prompt="a red cube", out=run_dir, seed=2)
    state = RunState()
    state.apply(EventMessage({"event": "started", "run_dir": str(run_dir), "total": 600}))
    state.apply(EventMessage({"event": "cancelled", "step": 240, "checkpoint": str(run_dir / "checkpoint")}))
    state.apply(ExitMessage(0))
    run_dir.mkdir()
    assert RunRecord.from_stopped(request, state, datetime(2025, 11, 21, 20, 5)) is None, "no checkpoint: nothing"
    (run_dir / "checkpoint").mkdir()
    (run_dir / "checkpoint" / "meta.json").write_text('{"step": 240}')
    record = RunRecord.from_stopped(request, state, datetime(2025, 11, 21, 20, 5))
    assert (record.status, record.steps, record.mesh, record.seed) == ("cancelled", 240, "", 2)
    assert record.message.startswith("Cancelled at step 240") and not record.finished
    assert not discard_empty_run(run_dir) and run_dir.is_dir(), "a folder with a checkpoint stays"

    refused = tmp_path / "refused"
    refused.mkdir()
    (refused / "worker.log").write_text("error: the procedural prior does not know 'carpet'\n")
    assert discard_empty_run(refused) and not refused.exists()
    assert not discard_empty_run(tmp_path / "never made")
