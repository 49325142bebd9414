"""Model discovery over tiny real diffusers models saved by the tests, in user folders and in a hub cache layout,
and the ``python -m engine models`` command as a real subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.model_discovery import KNOWN_MODELS, discover, files_to_download, inspect_model

ROOT = Path(__file__).resolve().parents[2]
SD_21 = "stabilityai/stable-diffusion-2-1-base"
IF_XL = "DeepFloyd/IF-I-XL-v1.0"


@pytest.fixture()
def saved_models(tiny_stable_diffusion: Path, tiny_deepfloyd_if: Path) -> dict[str, Path]:
    """The session's tiny Stable Diffusion and DeepFloyd IF checkpoints (tests/fixtures; read-only)."""
    return {"sd": tiny_stable_diffusion, "if": tiny_deepfloyd_if}


@pytest.fixture()
def copy_of(saved_models: dict[str, Path], tmp_path: Path):
    """A writable copy of a saved model at ``tmp_path/<relative>``, to break on purpose."""

    def copy(name: str, relative: str) -> Path:
        return Path(shutil.copytree(saved_models[name], tmp_path / relative))

    return copy


def bytes_on_disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def put_in_hub_cache(model: Path, cache: Path, repo_id: str, revision: str = "0" * 40) -> Path:
    """Lay ``model`` out the way huggingface_hub caches a download: content-addressed blobs,
    a snapshot of relative links to them, and refs/main naming the snapshot."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for source in sorted(p for p in model.rglob("*") if p.is_file()):
        blob = repo / "blobs" / hashlib.sha256(source.read_bytes()).hexdigest()
        shutil.copyfile(source, blob)
        link = snapshot / source.relative_to(model)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def by_id(models: list, model_id: str):
    matches = [m for m in models if m.id == model_id]
    assert len(matches) == 1, [m.id for m in models]
    return matches[0]


def test_folder_models_are_found_with_kind_size_and_completeness(copy_of, tmp_path: Path) -> None:
    sd = copy_of("sd", "studio/tiny-sd")
    deepfloyd = copy_of("if", "studio/acme/tiny-if")  # org/name layout one level deeper
    found = discover([tmp_path / "studio"], cache_dir=tmp_path / "no-cache")

    assert found.problems == []
    assert found.models[0].id == "procedural" and found.models[0].complete
    sd_entry, if_entry = by_id(found.models, str(sd)), by_id(found.models, str(deepfloyd))
    assert (sd_entry.kind, if_entry.kind) == ("stable-diffusion", "deepfloyd-if")
    for entry, folder in ((sd_entry, sd), (if_entry, deepfloyd)):
        assert entry.source == "folder" and entry.present and entry.complete and entry.missing == []
        assert entry.size_bytes == bytes_on_disk(folder) > 0
        assert entry.variant is None and not entry.downloadable
    # The known hub models are not on this machine: listed last, offered for download, licence noted.
    assert [m.id for m in found.models[-2:]] == [SD_21, IF_XL]
    absent_if = by_id(found.models, IF_XL)
    assert not absent_if.present and absent_if.downloadable
    assert "licence" in absent_if.licence and f"https://huggingface.co/{IF_XL}" in absent_if.licence
    assert "token" in absent_if.licence


def test_a_folder_that_is_itself_a_model_is_found(copy_of, tmp_path: Path) -> None:
    sd = copy_of("sd", "one-model")
    found = discover([sd], cache_dir=tmp_path / "no-cache")
    assert [m.id for m in found.models if m.source == "folder"] == [str(sd)]


def test_hub_cache_models_are_named_by_hub_id_and_counted_once(saved_models, tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    snapshot = put_in_hub_cache(saved_models["sd"], cache, SD_21)
    found = discover([], cache_dir=cache)

    entry = by_id(found.models, SD_21)  # listed once: present, not again as downloadable-and-absent
    assert entry.source == "hf-cache" and entry.present and entry.complete
    assert entry.path == str(snapshot) and entry.kind == "stable-diffusion"
    assert entry.size_bytes == bytes_on_disk(cache / ("models--" + SD_21.replace("/", "--")) / "blobs")
    assert entry.downloadable and "RAIL" in entry.licence


def test_hub_cache_location_follows_hugging_face_environment_variables(saved_models, tmp_path: Path) -> None:
    put_in_hub_cache(saved_models["if"], tmp_path / "hf-home" / "hub", "acme/tiny-if")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf-home")}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HUGGINGFACE_HUB_CACHE", None)
    models = run_models_command([], env)["models"]
    assert any(m["id"] == "acme/tiny-if" and m["kind"] == "deepfloyd-if" and m["complete"] for m in models)


def test_a_user_folder_holding_a_hub_cache_is_scanned_as_one(saved_models, tmp_path: Path) -> None:
    put_in_hub_cache(saved_models["sd"], tmp_path / "shared" / "hub", "acme/tiny-sd")
    found = discover([tmp_path / "shared"], cache_dir=tmp_path / "no-cache")
    assert by_id(found.models, "acme/tiny-sd").source == "hf-cache"


def test_missing_weights_make_a_model_incomplete_and_say_what_is_missing(copy_of, tmp_path: Path) -> None:
    sd = copy_of("sd", "models/sd")
    (sd / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    shutil.rmtree(sd / "vae")
    (sd / "tokenizer" / "tokenizer.json").unlink()
    (sd / "tokenizer" / "tokenizer_config.json").unlink()
    entry = inspect_model(sd)
    assert entry is not None and not entry.complete
    assert entry.missing == [
        "tokenizer: tokenizer files missing",
        "unet: no safetensors weights",
        "vae: folder missing",
    ]


def test_pickled_weights_do_not_count(copy_of) -> None:
    sd = copy_of("sd", "sd")
    weights = sd / "text_encoder" / "model.safetensors"
    weights.rename(weights.with_name("pytorch_model.bin"))
    entry = inspect_model(sd)
    assert not entry.complete
    assert entry.missing == ["text_encoder: only pickled .bin weights (safetensors needed)"]


def test_an_interrupted_hub_download_is_incomplete(saved_models, tmp_path: Path) -> None:
    """A blob that never finished leaves its snapshot link dangling."""
    snapshot = put_in_hub_cache(saved_models["if"], tmp_path / "hub", IF_XL)
    (snapshot / "unet" / "diffusion_pytorch_model.safetensors").resolve().unlink()
    entry = by_id(discover([], cache_dir=tmp_path / "hub").models, IF_XL)
    assert entry.present and not entry.complete and entry.missing == ["unet: no safetensors weights"]
    assert entry.downloadable  # a known model: Download completes it


def test_fp16_only_weights_are_complete_and_name_their_variant(copy_of) -> None:
    sd = copy_of("sd", "sd")
    for weights in sd.glob("*/*.safetensors"):
        weights.rename(weights.with_name(weights.name.replace(".safetensors", ".fp16.safetensors")))
    entry = inspect_model(sd)
    assert entry.complete and entry.variant == "fp16"

    unet = sd / "unet"
    (unet / "diffusion_pytorch_model.fp16.safetensors").rename(unet / "diffusion_pytorch_model.safetensors")
    mixed = inspect_model(sd)  # loaders pick the variant per component, as long as each has one
    assert mixed.complete and mixed.variant == "fp16"

    for weights in sd.glob("*/*.fp16.safetensors"):
        weights.rename(weights.with_name(weights.name.replace(".fp16.safetensors", ".safetensors")))
    assert inspect_model(sd).variant is None


def test_downloads_take_the_variant_where_a_component_has_it_and_never_pickles() -> None:
    """A hub file list shaped like DeepFloyd IF's: fp16 weights for the big parts, the watermarker without them."""
    repo_files = [
        ".gitattributes",
        "README.md",
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model-00001-of-00002.safetensors",
        "text_encoder/model-00002-of-00002.safetensors",
        "text_encoder/model.fp16-00001-of-00002.safetensors",
        "text_encoder/model.fp16-00002-of-00002.safetensors",
        "text_encoder/model.safetensors.index.fp16.json",
        "text_encoder/model.safetensors.index.json",
        "text_encoder/pytorch_model.bin",
        "tokenizer/special_tokens_map.json",
        "tokenizer/spiece.model",
        "tokenizer/tokenizer_config.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.bin",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "unet/diffusion_pytorch_model.safetensors",
        "watermarker/config.json",
        "watermarker/diffusion_pytorch_model.safetensors",
    ]
    assert files_to_download(repo_files, "fp16") == [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.fp16-00001-of-00002.safetensors",
        "text_encoder/model.fp16-00002-of-00002.safetensors",
        "text_encoder/model.safetensors.index.fp16.json",
        "tokenizer/special_tokens_map.json",
        "tokenizer/spiece.model",
        "tokenizer/tokenizer_config.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "watermarker/config.json",
        "watermarker/diffusion_pytorch_model.safetensors",
    ]
    default = files_to_download(repo_files, None)
    assert (
        "unet/diffusion_pytorch_model.safetensors" in default and "text_encoder/model.safetensors.index.json" in default
    )
    assert not any(".fp16" in path or path.endswith(".bin") for path in default)


def test_sharded_weights_need_every_shard(copy_of) -> None:
    sd = copy_of("sd", "sd")
    unet = sd / "unet"
    whole = unet / "diffusion_pytorch_model.safetensors"
    data = whole.read_bytes()
    shards = [
        "diffusion_pytorch_model-00001-of-00002.safetensors",
        "diffusion_pytorch_model-00002-of-00002.safetensors",
    ]
    (unet / shards[0]).write_bytes(data)
    (unet / shards[1]).write_bytes(data)
    whole.unlink()
    index = {"metadata": {}, "weight_map": {"a.weight": shards[0], "b.weight": shards[1]}}
    (unet / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(index))
    assert inspect_model(sd).complete

    (unet / shards[1]).unlink()
    entry = inspect_model(sd)
    assert not entry.complete and entry.missing == ["unet: 1 of 2 weight shards missing"]


def test_unreadable_index_and_missing_folder_become_sentences(copy_of, tmp_path: Path) -> None:
    good = copy_of("sd", "models/good")
    bad = copy_of("if", "models/bad")
    (bad / "model_index.json").write_text("{ not json")
    found = discover([tmp_path / "models", tmp_path / "nowhere"], cache_dir=tmp_path / "no-cache")

    assert [m.id for m in found.models if m.source == "folder"] == [str(good)]
    assert len(found.problems) == 2
    assert str(bad / "model_index.json") in found.problems[0] and "download that model again" in found.problems[0]
    assert found.problems[1] == (
        f"The model folder {tmp_path / 'nowhere'} does not exist; fix or remove it in the preferences."
    )


def test_other_pipelines_are_not_listed(copy_of, tmp_path: Path) -> None:
    sd = copy_of("sd", "models/xl")
    index = json.loads((sd / "model_index.json").read_text())
    (sd / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusionXLPipeline"}))
    assert inspect_model(sd) is None


def run_models_command(args: list[str], env: dict[str, str]) -> dict:
    """``python -m engine models ARGS`` as a real process; its single result event."""
    process = subprocess.run(
        [sys.executable, "-m", "engine", "models", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    events = [json.loads(line) for line in process.stdout.splitlines() if line.strip()]
    assert [e["event"] for e in events] == ["result"]
    return events[0]


def test_models_command_lists_json_for_the_add_on(copy_of, tmp_path: Path) -> None:
    sd = copy_of("sd", "extra/sd")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    result = run_models_command(["--folder", str(tmp_path / "extra"), "--folder", str(tmp_path / "gone")], env)

    assert result["protocol"] == 1 and result["command"] == "models"
    assert result["cache_dir"] == str(tmp_path / "empty-cache")
    assert [m["id"] for m in result["models"]] == ["procedural", str(sd), SD_21, IF_XL]
    local = result["models"][1]
    assert local["complete"] and local["size_bytes"] == bytes_on_disk(sd) and local["kind"] == "stable-diffusion"
    assert result["problems"] == [
        f"The model folder {tmp_path / 'gone'} does not exist; fix or remove it in the preferences."
    ]


def test_download_without_a_connection_is_one_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    process = subprocess.run(
        [sys.executable, "-m", "engine", "models", "--download", SD_21],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    events = [json.loads(line) for line in process.stdout.splitlines() if line.strip()]
    assert process.returncode == 2
    assert events[0]["event"] == "stage" and events[0]["name"] == "download"
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "prior"
    assert events[-1]["message"] == (
        "Cannot reach huggingface.co to download Stable Diffusion 2.1 base; "
        "check the internet connection and try again."
    )


def test_only_known_models_can_be_downloaded(tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "engine", "models", "--download", "someone/anything"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    error = json.loads(process.stdout.splitlines()[-1])
    assert process.returncode == 2 and error["event"] == "error" and error["kind"] == "input"
    assert all(known.repo_id in error["message"] for known in KNOWN_MODELS)
