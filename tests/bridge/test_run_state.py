"""RunState folds real protocol lines (encoded by engine.protocol) into what the panel shows."""

from __future__ import annotations

import pytest
from dreamfusion.bridge.run_state import RunState, RunStatus, describe_exit, format_duration
from dreamfusion.bridge.worker import EventMessage, ExitMessage, LogMessage
from dreamfusion.engine import protocol


def event(name: str, /, **fields: object) -> EventMessage:
    return EventMessage(protocol.decode(protocol.encode(name, **fields)))


def started(total: int = 100) -> EventMessage:
    return event("started", run_dir="/runs/a", prompt="a cube", prior="procedural", total=total, device="cpu")


def test_progress_preview_and_done() -> None:
    state = RunState()
    for message in (
        started(),
        event("stage", name="optimize", message="optimizing"),
        event("progress", step=25, total=100, loss=0.5, it_per_s=4.0, eta_s=125.0),
        event("preview", step=25, path="/runs/a/previews/step_000025.png"),
    ):
        state.apply(message)
    assert state.status is RunStatus.RUNNING and not state.finished
    assert state.progress == 0.25
    assert state.progress_label() == "Step 25/100 · 4.0 it/s · 2 min 05 s left"
    assert (state.preview_path, state.preview_step) == ("/runs/a/previews/step_000025.png", 25)
    state.apply(event("stage", name="mesh", message="mesh 50%", fraction=0.5))
    assert state.progress == 0.5 and state.progress_label() == "Extracting the mesh 50%"
    state.apply(event("done", run_dir="/runs/a", mesh="/runs/a/mesh.npz", glb="/runs/a/mesh.glb", elapsed_s=75.2))
    assert not state.finished, "finished only once the process has exited"
    state.apply(ExitMessage(0))
    assert state.status is RunStatus.DONE and state.result["mesh"] == "/runs/a/mesh.npz"
    assert state.message == "Done in 1 min 15 s" and state.error == ""


@pytest.mark.parametrize(
    ("peak", "shown"),
    [
        ({"device": "cuda", "allocated_bytes": 4_100_000_000, "reserved_bytes": 5_230_000_000,
          "process_bytes": 3_000_000_000}, "Done in 12 s · peak 5.2 GB of CUDA memory"),
        ({"device": "cpu", "allocated_bytes": None, "reserved_bytes": None, "process_bytes": 1_340_000_000},
         "Done in 12 s · peak 1.3 GB of RAM"),
        ({"device": "cpu", "allocated_bytes": None, "reserved_bytes": None, "process_bytes": None}, "Done in 12 s"),
        (None, "Done in 12 s"),  # an engine older than the field
    ],
)  # fmt: skip
def test_a_finished_run_shows_its_peak_memory(peak: dict | None, shown: str) -> None:
    state = RunState()
    state.apply(started())
    extra = {} if peak is None else {"peak_memory": peak}
    state.apply(event("done", run_dir="/runs/a", mesh="/runs/a/mesh.npz", glb="", elapsed_s=12.0, **extra))
    state.apply(ExitMessage(0))
    assert state.message == shown


def test_an_engine_error_is_shown_in_its_own_words() -> None:
    state = RunState()
    state.apply(started())
    state.apply(event("error", message="the prompt has no word the prior knows", kind="input"))
    state.apply(ExitMessage(2))
    assert state.status is RunStatus.FAILED
    assert (state.error, state.error_kind) == ("The prompt has no word the prior knows", "input")


def test_a_crash_reports_the_exit_and_the_last_log_lines() -> None:
    state = RunState()
    state.apply(started())
    for number in range(20):
        state.apply(LogMessage(f"line {number}"))
    state.apply(ExitMessage(-9))
    assert state.status is RunStatus.FAILED and state.error_kind == "crash"
    assert "stopped unexpectedly (ended by SIGKILL)" in state.error
    assert list(state.log_tail) == [f"line {number}" for number in range(12, 20)]
    assert state.error_report().endswith("line 18\nline 19")


def test_cancel_with_the_engine_cooperating() -> None:
    state = RunState()
    state.apply(started())
    state.request_cancel()
    assert state.status is RunStatus.STOPPING and not state.finished
    state.apply(event("cancelled", step=40, checkpoint="/runs/a/checkpoint"))
    state.apply(ExitMessage(0))
    assert state.status is RunStatus.CANCELLED and "step 40" in state.message and state.error == ""


def test_cancel_that_needed_a_kill_is_still_a_cancel() -> None:
    state = RunState()
    state.request_cancel()
    state.apply(ExitMessage(-9), forced="killed")
    assert state.status is RunStatus.CANCELLED and state.message.endswith("was killed)") and state.error == ""


def test_durations_and_exits_in_words() -> None:
    assert [format_duration(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 05 s", "1 h 02 min"]
    assert (describe_exit(3), describe_exit(-15)) == ("exit code 3", "ended by SIGTERM")


def test_the_priors_preparation_shows_its_fraction_until_optimization_begins() -> None:
    state = RunState()
    state.apply(started())
    state.apply(event("stage", name="prior", message="preparing the procedural-text prior 40%", fraction=0.4))
    assert state.progress == 0.4 and state.progress_label() == "Preparing the procedural-text prior 40%"
    state.apply(event("stage", name="optimize", message="optimizing 100 steps"))
    state.apply(event("progress", step=10, total=100, loss=0.5, it_per_s=4.0, eta_s=22.5))
    assert state.progress == 0.1 and state.progress_label().startswith("Step 10/100")


def test_the_stages_after_optimization_replace_the_step_count() -> None:
    state = RunState()
    state.apply(started(total=600))
    state.apply(event("progress", step=600, total=600, loss=0.5, it_per_s=9.0, eta_s=0.0))
    assert state.progress_label() == "Step 600/600 · 9.0 it/s · 0 s left"
    state.apply(event("stage", name="turntable", message="turntable 25%", fraction=0.25))
    assert state.progress_label() == "Rendering the turntable 25%" and state.progress == 0.25
    state.apply(event("stage", name="bake", message="bake"))  # a stage without a fraction still says what runs
    assert state.progress_label() == "Baking the colors"
    state.apply(event("stage", name="export", message="export 100%", fraction=1.0))
    assert state.progress_label() == "Writing the mesh files 100%"


def test_a_warning_is_kept_while_the_run_goes_on() -> None:
    state = RunState()
    state.apply(started())
    message = "DeepFloyd IF on a CPU takes about 41 s a step: 6.8 hours for 600 steps."
    state.apply(event("warning", kind="cpu_cost", message=message, seconds_per_step=41.0, hours=6.8))
    assert (state.warning, state.warning_kind, state.status) == (message, "cpu_cost", RunStatus.RUNNING)


def test_skipped_steps_show_only_once_there_are_some() -> None:
    state = RunState()
    state.apply(started())
    state.apply(event("progress", step=10, total=100, loss=0.5, it_per_s=4.0, eta_s=22.5, skipped_steps=0))
    assert state.skipped_text() == ""
    state.apply(event("progress", step=20, total=100, loss=None, it_per_s=4.0, eta_s=20.0, skipped_steps=1))
    assert state.skipped_text() == "Skipped 1 non-finite step"
    state.apply(event("progress", step=30, total=100, loss=0.5, it_per_s=4.0, eta_s=17.5, skipped_steps=3))
    assert state.skipped_text() == "Skipped 3 non-finite steps"
    state.apply(event("done", run_dir="/runs/a", mesh="/runs/a/mesh.npz", glb="", elapsed_s=30.0))
    state.apply(ExitMessage(0))
    assert state.skipped_text() == "Skipped 3 non-finite steps", "still said once the run is done"
