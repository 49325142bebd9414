"""Importing a batch folder made elsewhere (``engine batch`` on a cluster) through the installed extension: the
ledger written by the engine's own writer, run folders written by the fake engine as real processes, the folder
copied to another place before it is imported (as a folder copied off a cluster's shared disk is)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import bpy
import numpy as np
import pytest

from engine.batch.ledger import PromptRecord, PromptStatus, write_ledger
from engine.batch.prompt_list import parse_prompt_list
from tests.addon.addon_harness import configure
from tests.addon.test_queue import preview_pixels
from tests.fixtures import fake_engine

STEPS = 4
PREVIEW_EVERY = 2
PROMPTS = 'a red cube\n{"prompt": "a blue sphere", "seed": 5}\na flying banana\n'


def make_batch_folder(tmp_path: Path) -> Path:
    """A batch as ``engine batch`` leaves it on the machine that ran it: two prompts done, one failed."""
    launcher = fake_engine.write_launcher(tmp_path)
    batch = tmp_path / "cluster" / "props"
    records = []
    for item in parse_prompt_list(PROMPTS, "prompts.txt", "prompts.txt"):
        run_dir = batch / item.folder_name
        record = PromptRecord(index=item.index, prompt=item.prompt, run_dir=item.folder_name, executor="ray")
        if "banana" in item.prompt:
            record.status, record.error, record.kind = PromptStatus.FAILED, "the prompt has no word", "prompt"
        else:
            command = [str(launcher), "-m", "engine", "generate", f"--prompt={item.prompt}", "--out", str(run_dir)]
            command += ["--prior", "procedural"]
            command += ["--steps", str(STEPS), "--preview-every", str(PREVIEW_EVERY), "--seed", str(item.seed or 0)]
            # stdin stays open while it runs: like the engine, the fake takes a closed stdin as "stop"
            engine = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
            assert engine.wait(timeout=60) == 0
            engine.stdin.close()
            record.status, record.mesh, record.seconds = PromptStatus.DONE, f"{item.folder_name}/mesh.npz", 1.5
        records.append(record)
    write_ledger(batch, records)
    return batch


def test_a_batch_folder_from_elsewhere_comes_in_as_assets_in_one_step(addon, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path), size=1.0)
    made = make_batch_folder(tmp_path)
    copied = Path(shutil.copytree(made, tmp_path / "here" / "props"))
    shutil.rmtree(made)  # the paths the engine wrote there lead nowhere now

    assert bpy.ops.dreamfusion.import_batch(filepath=str(copied / "batch.jsonl")) == {"FINISHED"}
    collection = bpy.data.collections["DreamFusion"]
    assert collection.name in bpy.context.scene.collection.children
    objects = sorted(collection.objects, key=lambda obj: obj.name)
    assert [obj.name for obj in objects] == ["a blue sphere", "a red cube"], "the failed prompt is not imported"
    expected = fake_engine.preview_pixels(STEPS, STEPS) / 255.0  # each run's last preview
    for obj in objects:
        assert obj.asset_data is not None and obj.asset_data.description == obj.name
        assert {"DreamFusion", "procedural"} <= {tag.name for tag in obj.asset_data.tags}
        np.testing.assert_allclose(preview_pixels(obj), expected, atol=1 / 255)
        assert max(obj.dimensions) == pytest.approx(1.0)

    history = {record.prompt: record for record in bpy.context.scene.dreamfusion.history}
    assert sorted(history) == ["a blue sphere", "a red cube"]
    sphere = history["a blue sphere"]
    assert sphere.seed == 5 and sphere.steps == STEPS and sphere.prior == "procedural"
    assert Path(sphere.mesh).is_relative_to(copied) and Path(sphere.thumbnail).is_relative_to(copied)
    assert sphere.object.name == "a blue sphere" and sphere.elapsed_s == pytest.approx(1.5)

    assert bpy.ops.dreamfusion.import_batch(filepath=str(copied)) == {"FINISHED"}, "the folder itself, again"
    assert len(collection.objects) == 2, "what is already here is not imported twice"


def test_a_prompt_whose_files_are_gone_stays_out_and_the_others_come_in(addon, tmp_path: Path) -> None:
    configure(fake_engine.write_launcher(tmp_path))
    batch = make_batch_folder(tmp_path)
    (batch / "000-a-red-cube" / "mesh.npz").unlink()
    assert bpy.ops.dreamfusion.import_batch(filepath=str(batch)) == {"FINISHED"}
    assert [obj.name for obj in bpy.data.collections["DreamFusion"].objects] == ["a blue sphere"]


def test_a_folder_that_is_not_a_batch_is_refused_in_plain_words(addon, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"holds no batch\.jsonl; pick the folder that `engine batch --out` wrote"):
        bpy.ops.dreamfusion.import_batch(filepath=str(tmp_path))
    (tmp_path / "batch.jsonl").write_text(json.dumps({"index": "one"}) + "\n")
    with pytest.raises(RuntimeError, match=r"The batch cannot be read: .*line 1, is not a batch record"):
        bpy.ops.dreamfusion.import_batch(filepath=str(tmp_path))
    assert "DreamFusion" not in bpy.data.collections, "a refusal makes nothing"
