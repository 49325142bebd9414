"""The batch's prompt list and ledger: what a second run of the same command reads to continue."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.batch.ledger import PromptRecord, PromptStatus, read_ledger, write_ledger
from engine.batch.prompt_list import BatchItem, read_prompt_list
from engine.commands.batch import reconcile
from engine.errors import EngineError


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
