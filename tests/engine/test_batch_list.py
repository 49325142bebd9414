"""The batch's prompt list and ledger: what a second run of the same command reads to continue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine import checkpoint
from engine.batch.ledger import PromptRecord, PromptStatus, read_ledger, write_ledger
from engine.batch.prompt_list import BatchItem, read_prompt_list
from engine.batch.prompt_run import CHECKPOINT_META, ENGINE_ROOT
from engine.batch.ray_executor import UPLOAD_EXCLUDES, upload_excludes
from engine.commands.batch import reconcile
from engine.errors import EngineError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text(text)
    return path


def test_text_lines_and_json_lines_mix_and_comments_are_skipped(tmp_path: Path) -> None:
    items = read_prompt_list(
        write(tmp_path, '# props for level 3\na red cube\n\n{"prompt": "a yellow duck", "seed": 3, "steps": 400}\n'
              '{"prompt": "-a pink mug", "preset": "fast", "prior": "procedural"}\n')
    )  # fmt: skip
    assert items == [
        BatchItem(0, "a red cube"),
        BatchItem(1, "a yellow duck", seed=3, steps=400),
        BatchItem(2, "-a pink mug", preset="fast", prior="procedural"),
    ]
    assert [item.folder_name for item in items] == ["000-a-red-cube", "001-a-yellow-duck", "002-a-pink-mug"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "has no prompts"),
        ("a red cube\n{not json}\n", "line 2: not valid JSON"),
        ('{"seed": 1}\n', 'line 1: a JSON line needs a "prompt"'),
        ('{"prompt": "a red cube", "colour": "red"}\n', "unknown keys colour"),
        ('{"prompt": "a red cube", "seed": "zero"}\n', "seed must be a whole number"),
        ('{"prompt": "a red cube", "steps": true}\n', "steps must be a whole number"),
        ('{"prompt": "   "}\n', "line 1: the prompt is empty"),
        ("x" * 400 + "\n", "keep it under"),
        ('{"prompt": "a red cube", "preset": "ultra"}\n', "preset must be one of fast, balanced, quality"),
        (
            '{"prompt": "a red cube", "prior": "dall-e"}\n',
            "prior must be one of procedural, procedural-text, oracle",
        ),
        ('{"prompt": "a red cube", "steps": 0}\n', "steps must be 1 or more, not 0"),
        ('{"prompt": "a red cube", "seed": -1}\n', "seed must be 0 or more"),
    ],
)
def test_a_malformed_list_is_refused_naming_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        read_prompt_list(write(tmp_path, text))


def test_a_missing_list_is_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="does not exist"):
        read_prompt_list(tmp_path / "nope.txt")


def test_the_ledger_round_trips_and_says_what_a_rerun_retries(tmp_path: Path) -> None:
    records = [
        PromptRecord(
            0, "a red cube", PromptStatus.DONE, "000-a-red-cube", "000-a-red-cube/mesh.npz", 12.5, "ray", "n1"
        ),
        PromptRecord(1, "a flying banana", PromptStatus.FAILED, error="does not know 'flying'", kind="prompt"),
        PromptRecord(2, "a blue sphere", PromptStatus.FAILED, error="killed", kind="crash"),
        PromptRecord(3, "a yellow duck", PromptStatus.CANCELLED, step=200),
    ]
    write_ledger(tmp_path, records)
    assert read_ledger(tmp_path) == records
    assert [r.retryable for r in records] == [False, False, True, True]


def test_a_corrupt_ledger_is_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "batch.jsonl").write_text('{"index": 0, "prompt": "a red cube", "status": "done"}\n[1, 2]\n')
    with pytest.raises(ValueError, match="line 2"):
        read_ledger(tmp_path)


def test_reconcile_keeps_earlier_records_and_refuses_another_list(tmp_path: Path) -> None:
    done = PromptRecord(0, "a red cube", PromptStatus.DONE, "000-a-red-cube")
    killed = PromptRecord(1, "a blue sphere", PromptStatus.RUNNING, "001-a-blue-sphere")
    items = [BatchItem(0, "a red cube"), BatchItem(1, "a blue sphere"), BatchItem(2, "a pink mug")]
    merged = reconcile(items, [done, killed], tmp_path)
    assert merged[0] is done
    assert merged[1].status is PromptStatus.CANCELLED  # its batch was killed: resume it
    assert merged[2] == PromptRecord(2, "a pink mug", run_dir="002-a-pink-mug")
    with pytest.raises(EngineError, match="another prompt list"):
        reconcile([BatchItem(0, "a green cone")], [done], tmp_path)


def test_a_batch_with_nothing_left_starts_no_executor(tmp_path: Path) -> None:
    """Every prompt done or failed on its input: the rerun reports the batch without reaching for Ray at all."""
    prompts = write(tmp_path, "a red cube\na flying banana\n")
    out = tmp_path / "batch"
    out.mkdir()
    write_ledger(out, [
        PromptRecord(0, "a red cube", PromptStatus.DONE, "000-a-red-cube", "000-a-red-cube/mesh.npz", 3.0, "ray"),
        PromptRecord(1, "a flying banana", PromptStatus.FAILED, "001-a-flying-banana", error="no 'flying'",
                     kind="prompt"),
    ])  # fmt: skip
    unreachable = "127.0.0.1:9"  # nothing listens there: joining it would fail with "cannot reach"
    result = subprocess.run(
        [sys.executable, "-m", "engine", "batch", str(prompts), "--out", str(out), "--ray", unreachable],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    last = json.loads(result.stdout.splitlines()[-1])
    assert result.returncode == 2 and last["kind"] == "batch", result.stdout + result.stderr
    assert "1 of 2 prompts failed" in last["message"] and "cannot reach" not in result.stdout
    assert (last["done"], last["failed"]) == (1, 1)


def test_the_prompt_runner_knows_where_the_engine_checkpoints() -> None:
    """The batch names the checkpoint's marker without importing torch; it must be the file the engine writes."""
    assert Path("checkpoint") / checkpoint.META_FILE == CHECKPOINT_META
    assert "torch" not in subprocess.run(
        [sys.executable, "-c", "import sys, engine.commands.batch; print(sorted(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_ray_leaves_a_batch_folder_inside_the_engine_folder_out_of_its_upload(tmp_path: Path) -> None:
    inside = ENGINE_ROOT / "output" / "props"
    assert upload_excludes(inside)[-1] == "/output/props/"
    assert upload_excludes(tmp_path) == UPLOAD_EXCLUDES
