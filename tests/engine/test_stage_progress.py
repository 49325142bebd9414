"""Stage progress: its events as the add-on reads them, and the stop it raises between units of work (a real
StopSignal, a real EventWriter), for the prior's preparation and for meshing."""

from __future__ import annotations

import io
import json

import pytest

from engine import protocol
from engine.procedural.baked_scene import BakedScene
from engine.procedural.prompt import parse_prompt
from engine.procedural.scene import Scene
from engine.stage_progress import StageProgress, Stopped, span
from engine.stop_signal import StopSignal


def reporter(stop: StopSignal) -> tuple[StageProgress, io.StringIO]:
    stream = io.StringIO()
    messages = {"prior": "preparing the procedural-text prior"}
    return StageProgress(protocol.EventWriter(stream), stop, messages, uninterruptible=("export",)), stream


def stage_events(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_events_come_at_the_start_every_tenth_and_once_at_the_end() -> None:
    progress, stream = reporter(StopSignal())
    for unit in range(101):
        progress("prior", unit / 100)
    progress("prior", 1.0)  # a caller that ends its stage once more reports nothing new
    fractions = [event["fraction"] for event in stage_events(stream)]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions.count(1.0) == 1
    assert 10 <= len(fractions) <= 12  # every 10% (more only if a unit took over a second)
    first = stage_events(stream)[1]
    assert first["event"] == "stage" and first["name"] == "prior"
    assert first["message"] == f"preparing the procedural-text prior {first['fraction']:.0%}"


def test_a_requested_stop_raises_after_the_report_except_in_an_uninterruptible_stage() -> None:
    stop = StopSignal()
    progress, stream = reporter(stop)
    progress("prior", 0.0)
    stop.request()
    progress("export", 0.5)  # the mesh files are replaced together: reported, not stopped
    with pytest.raises(Stopped):
        progress.of("mesh")(0.3)
    assert [(e["name"], e["fraction"]) for e in stage_events(stream)] == [
        ("prior", 0.0),
        ("export", 0.5),
        ("mesh", 0.3),
    ]


def test_a_span_maps_a_part_onto_its_share_of_the_stage() -> None:
    seen: list[float] = []
    span(seen.append, 0.5, 1.0)(0.5)
    assert seen == [0.75]


def test_a_bake_reports_every_chunk_and_a_stop_ends_it_between_chunks() -> None:
    scene = Scene(parse_prompt("a red cube"))
    seen: list[float] = []
    BakedScene.bake(scene, resolution=48, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 2

    def stop_at_the_first_chunk(fraction: float) -> None:
        raise Stopped

    with pytest.raises(Stopped):
        BakedScene.bake(scene, resolution=48, progress=stop_at_the_first_chunk)
