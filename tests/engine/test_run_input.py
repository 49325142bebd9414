"""A run checks everything it can know before it writes anything, reads back what it wrote as strictly,
keeps its internal-error log to itself, and takes a prompt that starts with "-". In process: each case
ends before the prior loads, so none needs an engine subprocess."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from engine import checkpoint, cli, run_folder
from engine.commands import generate
from engine.config import RunConfig, to_dict
from engine.device import out_of_memory_error
from engine.protocol import EventWriter
from tests.engine.conftest import Engine


@pytest.mark.parametrize(
    ("args", "kind", "words"),
    [
        (["--prompt", "a red dragon"], "prompt", "'dragon'"),
        (["--prompt", "a red cube", "--negative-prompt", "a blue dragn"], "prompt", "'dragn'"),
        (["--prompt", "a red cube", "--set", 'mesh.bake="png"'], "input", "mesh.bake must be one of vertex, uv"),
        (["--prompt", "a red cube", "--set", "mesh.texture_size=10"], "input", "mesh.texture_size must be"),
        (["--prompt", "a red cube", "--set", 'optim.lr="abc"'], "input", "optim.lr must be a number"),
        (["--prompt", "a red cube", "--set", "render.resolution=100000"], "input", "from 8 to 512"),
        (["--prompt", "a red cube", "--set", "render.samples_per_ray=0"], "input", "samples_per_ray must be"),
        (["--prompt", "a red cube", "--guidance-scale", "nan"], "input", "guidance.guidance_scale must be"),
        (["--prompt", "a red cube", "--seed", str(2**64)], "input", "seed must be a whole number from 0"),
        (["--prompt", "a red cube", "--device", "tpu"], "input", "device must be one of auto, cpu, cuda, mps"),
        (["--prompt", "a red cube", "--set", "field.name=1"], "input", "field.name must be one of sdf-grid, grid, mlp"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    args: list[str], kind: str, words: str, engine: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    code, lines = engine("generate", *args, "--out", str(out))
    assert code == 2 and lines[-1]["event"] == "error"
    assert lines[-1]["kind"] == kind and words in lines[-1]["message"], lines[-1]
    assert not out.exists()  # so the same --out works once the input is fixed


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_device_this_machine_lacks_is_refused_before_anything_is_written(engine: Engine, tmp_path: Path) -> None:
    code, lines = engine("generate", "--prompt", "a red cube", "--device", "cuda", "--out", str(tmp_path / "run"))
    assert code == 2 and lines[-1]["kind"] == "device" and not (tmp_path / "run").exists()


GOOD_CONFIG = json.dumps(to_dict(RunConfig(prompt="a red cube")))
GOOD_META = json.dumps({"format_version": checkpoint.FORMAT_VERSION, "step": 10, "param_groups": [{}]})


def _run_folder(tmp_path: Path, config: str = GOOD_CONFIG, meta: str = GOOD_META) -> Path:
    """A run folder as a stopped run leaves it, with the given config.json and checkpoint sidecar texts."""
    folder = tmp_path / "run"
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "config.json").write_text(config)
    (folder / "checkpoint" / checkpoint.META_FILE).write_text(meta)
    return folder


def _meta(step: object) -> str:
    return json.dumps({"format_version": checkpoint.FORMAT_VERSION, "step": step, "param_groups": []})


@pytest.mark.parametrize(
    ("config", "meta", "words"),
    [
        (GOOD_CONFIG, "[1, 2]", "meta.json holds [1, 2], not an object"),
        (GOOD_CONFIG, "null", "meta.json holds null, not an object"),
        (GOOD_CONFIG, _meta("ten"), 'its step is "ten", not a whole number'),
        (GOOD_CONFIG, _meta(1000000), "its step 1000000 lies past the end of this 1200-step run"),
        ("[]", GOOD_META, "the settings must be an object of settings, not []"),
        (GOOD_CONFIG.replace('"seed": 0', '"seed": "zero"'), GOOD_META, "seed must be a whole number from 0 to"),
    ],
)
def test_corrupt_files_that_parse_are_named(config: str, meta: str, words: str, engine: Engine, tmp_path: Path) -> None:
    folder = _run_folder(tmp_path, config, meta)
    before = sorted(path.name for path in folder.rglob("*"))
    code, lines = engine("generate", "--resume", str(folder))
    assert code == 2 and lines[-1]["kind"] == "checkpoint" and words in lines[-1]["message"], lines[-1]
    assert sorted(path.name for path in folder.rglob("*") if path.name != ".lock") == before


def test_resume_refuses_what_the_run_fixed_and_checks_what_it_may_change(engine: Engine, tmp_path: Path) -> None:
    folder = _run_folder(tmp_path)
    before = (folder / "config.json").read_text()
    code, lines = engine("generate", "--resume", str(folder), "--prompt", "a blue sphere", "--seed", "3")
    assert code == 2 and "--prompt, --seed cannot be given with it" in lines[-1]["message"]
    code, lines = engine("generate", "--resume", str(folder), "--steps", "5")
    assert code == 2 and "fewer than the 10 steps this run has done" in lines[-1]["message"]
    code, lines = engine("generate", "--resume", str(folder), "--guidance-scale", "-1")
    assert code == 2 and "guidance.guidance_scale must be a number from 0 to 1000" in lines[-1]["message"]
    assert (folder / "config.json").read_text() == before  # refused changes are not written back


def test_resume_honours_steps_device_and_guidance_scale_and_writes_them_back(tmp_path: Path) -> None:
    folder = _run_folder(tmp_path)
    argv = ["generate", "--resume", str(folder), "--steps", "40", "--device", "cpu", "--guidance-scale", "7.5"]
    args = cli.build_parser("generate").parse_args(argv)
    run = run_folder.resume_run(args)
    run.lock.release()
    assert (run.config.optim.steps, run.config.device, run.config.guidance.guidance_scale) == (40, "cpu", 7.5)
    written = json.loads((folder / "config.json").read_text())
    assert (written["optim"]["steps"], written["device"], written["guidance"]["guidance_scale"]) == (40, "cpu", 7.5)
    assert run.resumed and run.has_checkpoint and run.device == torch.device("cpu")


def test_an_internal_error_is_logged_in_its_own_run_folder(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(generate, "generate", broken)
    code, lines = engine("generate", "--prompt", "a red cube", "--out", str(tmp_path / "run"))
    assert code == 3 and lines[-1]["kind"] == "internal" and "a bug" in lines[-1]["message"]
    assert lines[-1]["log"] == str(tmp_path / "run" / cli.ERROR_LOG)
    assert "RuntimeError: a bug" in (tmp_path / "run" / cli.ERROR_LOG).read_text()


def test_out_of_memory_is_a_sentence_with_what_helps(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_big(*_: object) -> int:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(generate, "generate", too_big)
    code, lines = engine("generate", "--prompt", "a red cube", "--out", str(tmp_path / "run"))
    assert code == 2 and lines[-1]["kind"] == "memory" and "--set render.resolution=32" in lines[-1]["message"]
    on_gpu = str(out_of_memory_error(torch.device("cuda"), tmp_path / "run"))
    assert on_gpu.startswith("the run ran out of CUDA memory") and f"--resume {tmp_path / 'run'} --device cpu" in on_gpu


def test_without_a_run_folder_each_error_log_is_a_file_of_its_own() -> None:
    first, second = cli.write_error_log("one", None), cli.write_error_log("two", None)
    try:
        assert first and second and first != second
        assert (first.read_text(), second.read_text()) == ("one", "two")
    finally:
        for log in (first, second):
            if log is not None:
                log.unlink()


def test_a_prompt_that_starts_with_a_dash_is_a_prompt() -> None:
    argv = ["generate", "--prompt", "-a red cube", "--negative-prompt", "--blurry", "--out", "run"]
    args = cli.build_parser("generate").parse_args(cli.join_text_options(argv, generate.TEXT_OPTIONS))
    assert (args.prompt, args.negative_prompt, args.out) == ("-a red cube", "--blurry", Path("run"))


def test_a_reader_that_went_away_stops_the_run_and_the_log_keeps_every_event(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the client died
    closed: list[bool] = []
    with os.fdopen(write_end, "w") as stream:
        writer = EventWriter(stream, str(tmp_path / "log.jsonl"), on_closed=lambda: closed.append(True))
        writer("progress", step=1)
        writer("cancelled", step=1, checkpoint="x")
    assert closed == [True]
    assert [json.loads(line)["event"] for line in (tmp_path / "log.jsonl").read_text().splitlines()] == [
        "progress",
        "cancelled",
    ]
