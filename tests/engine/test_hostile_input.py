"""What a hostile test of the engine found, by class, each with its reproduction and more instances:
nothing outside a run folder is touched, nothing hangs, every bad input is one sentence and loses nothing.
In process where the case ends before the prior loads; a real engine process where a hang, a closed stdout or
a signal is the point."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import checkpoint, cli, run_folder
from engine.batch.ledger import LEDGER_FILE, PromptRecord, PromptStatus, read_ledger, write_ledger
from engine.commands import generate as generate_command
from engine.config import RunConfig, to_dict
from engine.device import is_out_of_memory
from engine.errors import EngineError
from engine.mesh.file_format import MeshData, write_npz
from engine.protocol import EventWriter
from engine.run_files import SpecialFileError, open_file, read_text
from tests.engine.conftest import Engine

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.dumps(to_dict(RunConfig(prompt="a red cube")))
META = json.dumps({"format_version": checkpoint.FORMAT_VERSION, "step": 10, "param_groups": [{}]})
MINE = "the user's own notes\n"


def stopped_run(tmp_path: Path) -> Path:
    """A run folder as a run stopped after its first checkpoint and an export leaves it."""
    folder = tmp_path / "run"
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "config.json").write_text(CONFIG)
    (folder / "checkpoint" / checkpoint.META_FILE).write_text(META)
    (folder / "checkpoint" / checkpoint.STATE_FILE).write_bytes(b"state")
    write_npz(folder / "mesh.npz", MeshData(np.eye(3), [[0, 1, 2]], np.ones((3, 4))))
    (folder / "log.jsonl").write_text('{"event": "checkpoint", "protocol": 1, "step": 10, "path": "x"}\n')
    return folder


def users_file(tmp_path: Path) -> Path:
    victim = tmp_path / "notes.txt"
    victim.write_text(MINE)
    return victim


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` but the lock (a refused command may hold it for its moment)."""
    files = (p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and p.name != ".lock")
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def engine_process(*argv: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120, **options
    )


# -- 1. special files in a run folder: never followed, never waited on -----------------------------------------


def test_a_lock_that_links_to_a_users_file_is_refused_by_remesh_and_the_file_kept(
    engine: Engine, tmp_path: Path
) -> None:
    folder, victim = stopped_run(tmp_path), users_file(tmp_path)
    (folder / ".lock").symlink_to(victim)
    code, lines = engine("remesh", str(folder), "--threshold", "20")
    assert code == 2 and lines[-1]["kind"] == "input", lines[-1]
    assert f"{folder / '.lock'} is a symbolic link, not a regular file" in lines[-1]["message"]
    assert victim.read_text() == MINE


@pytest.mark.parametrize("link", [".lock", "checkpoint/meta.json", "config.json", "previews"])
def test_a_link_anywhere_in_a_run_folder_is_refused_by_resume_and_what_it_points_at_kept(
    link: str, engine: Engine, tmp_path: Path
) -> None:
    folder, victim = stopped_run(tmp_path), users_file(tmp_path)
    (folder / link).unlink(missing_ok=True)
    (folder / link).symlink_to(victim if link != "previews" else tmp_path)
    before = snapshot(folder)
    code, lines = engine("generate", "--resume", str(folder))
    assert code == 2 and "is a symbolic link, not a regular file" in lines[-1]["message"], lines[-1]
    assert victim.read_text() == MINE and snapshot(folder) == before


@pytest.mark.slow
def test_a_fifo_log_does_not_hang_a_resume(tmp_path: Path) -> None:
    folder = stopped_run(tmp_path)
    (folder / "log.jsonl").unlink()
    os.mkfifo(folder / "log.jsonl")
    started = time.monotonic()
    result = engine_process("generate", "--resume", str(folder), stdin=subprocess.DEVNULL)
    event = json.loads(result.stdout.splitlines()[-1])
    assert result.returncode == 2 and f"{folder / 'log.jsonl'} is a FIFO" in event["message"]
    assert time.monotonic() - started < 60 and "Traceback" not in result.stderr


@pytest.mark.parametrize("mode", ["r", "rb", "a", "r+"])
def test_every_way_of_opening_a_run_file_refuses_a_fifo_and_a_link_at_once(mode: str, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(users_file(tmp_path))
    (tmp_path / "folder").mkdir()
    for name, what in (("fifo", "a FIFO"), ("link", "a symbolic link"), ("folder", "a folder")):
        with pytest.raises(SpecialFileError, match=what):
            open_file(tmp_path / name, mode)
    assert (tmp_path / "notes.txt").read_text() == MINE
    if mode in ("a", "r+"):
        with open_file(tmp_path / "new.txt", mode) as handle:
            handle.write("created")
        assert read_text(tmp_path / "new.txt") == "created"


def test_an_error_log_that_is_a_link_is_replaced_not_written_through(tmp_path: Path) -> None:
    folder, victim = tmp_path / "run", users_file(tmp_path)
    folder.mkdir()
    (folder / cli.ERROR_LOG).symlink_to(victim)
    assert cli.write_error_log("Traceback: a bug", folder) == folder / cli.ERROR_LOG
    assert victim.read_text() == MINE and not (folder / cli.ERROR_LOG).is_symlink()


def test_a_fifo_log_is_given_up_without_waiting_and_the_events_still_go_out(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "log.jsonl")
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as stream, os.fdopen(read_end) as reader:
        EventWriter(stream, str(tmp_path / "log.jsonl"))("progress", step=1)
        stream.flush()
        assert json.loads(reader.readline())["step"] == 1


# -- 2. --out at a folder that is not a new run ------------------------------------------------------------------


def test_out_at_a_users_folder_is_refused_and_nothing_in_it_replaced(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    (folder / "previews").mkdir(parents=True)
    (folder / "mesh.npz").write_text("my mesh")
    (folder / "previews" / "step_000003.png").write_text("my picture")
    before = snapshot(folder)
    code, lines = engine("generate", "--prompt", "a red cube", "--out", str(folder))
    assert code == 2 and lines[-1]["kind"] == "output" and "is not empty" in lines[-1]["message"], lines[-1]
    assert snapshot(folder) == before and not (folder / ".lock").exists()
    with pytest.raises(EngineError, match="is not empty"):  # the issue's `--out /`, checked without writing
        run_folder.refuse_used_folder(Path("/"))


def test_out_at_a_file_or_a_run_is_refused_and_a_folder_with_only_a_clients_log_is_new(
    engine: Engine, tmp_path: Path
) -> None:
    users_file(tmp_path)
    code, lines = engine("generate", "--prompt", "a red cube", "--out", str(tmp_path / "notes.txt"))
    assert code == 2 and "is a file, not a folder" in lines[-1]["message"]
    assert (tmp_path / "notes.txt").read_text() == MINE
    folder = stopped_run(tmp_path)
    code, lines = engine("generate", "--prompt", "a red cube", "--out", str(folder))
    assert code == 2 and f"continue it with --resume {folder}" in lines[-1]["message"]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "worker.log").write_text("the add-on's log of this run\n")
    path, lock, created = run_folder.claim_new_folder(fresh)
    lock.release()
    assert path == fresh and created == [fresh / ".lock"]


def test_remesh_of_a_users_folder_is_refused_without_a_lock_left_in_it(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text(MINE)
    code, lines = engine("remesh", str(tmp_path))
    assert code == 2 and "holds no run" in lines[-1]["message"] and sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_batch_out_at_a_users_folder_is_refused_before_anything_is_written(engine: Engine, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red cube\n")
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text(MINE)
    code, lines = engine("batch", str(prompts), "--out", str(folder))
    assert code == 2 and "holds no batch" in lines[-1]["message"], lines[-1]
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    code, lines = engine("batch", str(prompts), "--out", str(prompts))
    assert code == 2 and "is a file, not a folder" in lines[-1]["message"]


# -- 4. internal errors where a sentence belongs -----------------------------------------------------------------


def test_the_cpu_allocator_running_out_is_the_memory_sentence(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def allocate(*_: object) -> int:
        torch.empty(2**60, dtype=torch.uint8)  # more than any machine has: torch's own CPU allocator error
        return 0

    monkeypatch.setattr(generate_command, "generate", allocate)  # the run itself, after its folder is claimed
    code, lines = engine("generate", "--prompt", "a red cube", "--out", str(tmp_path / "run"))
    assert code == 2 and lines[-1]["kind"] == "memory", lines[-1]
    assert lines[-1]["message"].startswith("the run ran out of CPU memory")
    assert is_out_of_memory(MemoryError()) and not is_out_of_memory(RuntimeError("a bug"))


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("status", "finished", 'its status "finished" is not one of the ledger\'s'),
        ("seconds", "abc", 'its seconds is "abc"'),
        ("index", -1, "its index is -1"),
        ("attempts", None, "its attempts is null"),
    ],
)
def test_a_bad_ledger_line_is_a_sentence_naming_it(
    field: str, value: object, words: str, engine: Engine, tmp_path: Path
) -> None:
    prompts, folder = tmp_path / "prompts.txt", tmp_path / "batch"
    prompts.write_text("a red cube\n")
    record = json.loads(PromptRecord(index=0, prompt="a red cube").to_json())
    folder.mkdir()
    (folder / LEDGER_FILE).write_text(json.dumps({**record, field: value}) + "\n")
    before = snapshot(folder)
    code, lines = engine("batch", str(prompts), "--out", str(folder))
    assert code == 2 and lines[-1]["kind"] == "input", lines[-1]
    assert "line 1, is not a batch record" in lines[-1]["message"] and words in lines[-1]["message"]
    assert snapshot(folder) == before


def test_a_ledger_that_is_not_utf8_is_a_sentence(engine: Engine, tmp_path: Path) -> None:
    prompts, folder = tmp_path / "prompts.txt", tmp_path / "batch"
    prompts.write_text("a red cube\n")
    folder.mkdir()
    (folder / LEDGER_FILE).write_bytes(b"\xff\xfe not text\n")
    code, lines = engine("batch", str(prompts), "--out", str(folder))
    assert code == 2 and "is not UTF-8 text" in lines[-1]["message"]


def test_a_nul_in_a_batch_prompt_is_refused_naming_its_line(engine: Engine, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red cube\na blue\x00 sphere\n")
    code, lines = engine("batch", str(prompts), "--out", str(tmp_path / "batch"))
    assert code == 2 and "prompts.txt, line 2: the prompt holds the control character '\\x00'" in lines[-1]["message"]
    assert not (tmp_path / "batch").exists()


def test_odd_model_indexes_are_skipped_and_the_rest_still_listed(engine: Engine, tmp_path: Path) -> None:
    odd = {"a": {"_class_name": ["a", "B"]}, "b": {"_class_name": {"x": 1}}, "c": {"_class_name": None}}
    for name, index in odd.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "model_index.json").write_text(json.dumps(index))
    unet = tmp_path / "d" / "unet"
    unet.mkdir(parents=True)
    (tmp_path / "d" / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]})
    )
    (unet / "config.json").write_text("{}")
    (unet / "diffusion_pytorch_model.safetensors.index.json").write_text("[1, 2]")
    code, lines = engine("models", "--folder", str(tmp_path))
    assert code == 0 and lines[-1]["event"] == "result", lines[-1]
    listed = [model for model in lines[-1]["models"] if model.get("path") == str(tmp_path / "d")]
    assert len(listed) == 1 and not listed[0]["complete"]


@pytest.mark.slow
@pytest.mark.parametrize("redirect", ["closed", "/dev/full"])
def test_an_unwritable_stdout_is_one_sentence_on_stderr(redirect: str) -> None:
    command = f"{sys.executable} -m engine prior-vocabulary " + (">&-" if redirect == "closed" else ">/dev/full")
    result = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("engine: its output could not be written")
    assert len(result.stderr.strip().splitlines()) == 1


# -- 5. checks that came too late --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--set", 'optim.lr="abc"'], "optim.lr must be a number"),
        (["--steps", "0"], "optim.steps must be"),
        (["--device", "tpu"], "device must be one of auto, cpu, cuda, mps"),
        (["--prior", "dall-e"], "--prior 'dall-e' is not a prior"),
        (["--set", "optim.nope=1"], "unknown setting 'optim.nope'"),
    ],
)
def test_a_batchs_own_flags_are_checked_before_its_folder_exists(
    flags: list[str], words: str, engine: Engine, tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red cube\na blue sphere\n")
    code, lines = engine("batch", str(prompts), "--out", str(tmp_path / "batch"), *flags)
    assert code == 2 and lines[-1]["kind"] == "input" and words in lines[-1]["message"], lines[-1]
    assert not (tmp_path / "batch").exists()


def _no_space(*_: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("existed", [False, True])
def test_a_new_run_refused_on_a_full_disk_leaves_no_folder_and_no_lock(
    existed: bool, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    if existed:
        out.mkdir()
    monkeypatch.setattr(os, "replace", _no_space)
    code, lines = engine("generate", "--prompt", "a red cube", "--out", str(out))
    assert code == 2 and lines[-1]["kind"] == "output" and "the disk is full" in lines[-1]["message"]
    assert out.exists() == existed and (not existed or list(out.iterdir()) == [])


# -- 6. resume trusts only what is there -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remove", "words"),
    [
        ("checkpoint/meta.json", "meta.json is missing"),
        ("checkpoint", "the folder is missing, but mesh.npz is there"),
        ("checkpoint+mesh.npz", "the folder is missing, but log.jsonl records one"),
    ],
)
def test_a_resume_without_its_checkpoint_is_refused_and_overwrites_nothing(
    remove: str, words: str, engine: Engine, tmp_path: Path
) -> None:
    folder = stopped_run(tmp_path)
    for name in remove.split("+"):
        path = folder / name
        if path.is_dir():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        else:
            path.unlink()
    before = snapshot(folder)
    code, lines = engine("generate", "--resume", str(folder))
    assert code == 2 and lines[-1]["kind"] == "checkpoint" and words in lines[-1]["message"], lines[-1]
    assert snapshot(folder) == before


def test_a_run_stopped_before_its_first_checkpoint_still_resumes_from_the_start(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text(CONFIG)
    (folder / "log.jsonl").write_text('{"event": "cancelled", "protocol": 1, "step": 0, "checkpoint": "x"}\n')
    run = run_folder.resume_run(cli.build_parser("generate").parse_args(["generate", "--resume", str(folder)]))
    run.lock.release()
    assert run.resumed and not run.has_checkpoint


def test_a_ledger_written_by_the_engine_reads_back(tmp_path: Path) -> None:
    """The ledger's stricter reading still takes every record the engine writes."""
    records = [PromptRecord(index=0, prompt="a red cube", status=PromptStatus.DONE, seconds=1.5, mesh="x/mesh.npz")]
    write_ledger(tmp_path, records)
    assert read_ledger(tmp_path) == records
