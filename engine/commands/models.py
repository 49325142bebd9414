"""``python -m engine models``: the diffusion models on this machine, as one ``result`` event.

With ``--download REPO_ID`` it first fetches one of the known models into the Hugging Face cache
(safetensors only, in the known model's precision variant where a component has it), reporting
bytes on disk as ``stage`` events.
A gated model needs an access token in ``HF_TOKEN``: the add-on passes it in the environment,
never on the command line.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from .. import protocol
from ..errors import EngineError
from ..model_discovery import KNOWN_MODELS, KnownModel, discover, files_to_download, folder_size, hub_cache_dir
from ..payloads import result_fields

HELP = "List the diffusion models on this machine (procedural, local diffusers models, downloadable ones)."

DOWNLOAD_REPORT_INTERVAL_S = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--folder", action="append", default=[], type=Path, help="an extra folder with models (repeatable)"
    )
    parser.add_argument(
        "--download",
        metavar="REPO_ID",
        choices=[known.repo_id for known in KNOWN_MODELS],
        help="download this known model into the Hugging Face cache first",
    )


def download(known: KnownModel, cache_dir: Path) -> None:
    """Fetch ``known`` into ``cache_dir``; report bytes on disk while it runs; map hub failures to sentences."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    blobs = cache_dir / f"models--{known.repo_id.replace('/', '--')}" / "blobs"
    failures: list[BaseException] = []

    def fetch() -> None:
        try:
            files = files_to_download(HfApi().list_repo_files(known.repo_id), known.variant)
            snapshot_download(known.repo_id, cache_dir=cache_dir, allow_patterns=files)
        except BaseException as exc:  # handed to the main thread, which maps it to a sentence
            failures.append(exc)

    protocol.emit(protocol.STAGE, name="download", message=f"Downloading {known.title} ({known.repo_id})")
    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    while True:
        worker.join(DOWNLOAD_REPORT_INTERVAL_S)
        if not worker.is_alive():
            break
        on_disk = folder_size(blobs) if blobs.is_dir() else 0
        protocol.emit(protocol.STAGE, name="download", message=f"{known.title}: {on_disk / 1e9:.2f} GB on disk")
    if not failures:
        return
    exc = failures[0]
    if isinstance(exc, GatedRepoError):
        message = (
            f"The hub refused {known.title}: accept the {known.licence} at https://huggingface.co/{known.repo_id} "
            "and enter a Hugging Face access token in the preferences."
        )
    elif isinstance(exc, RepositoryNotFoundError):
        message = f"The hub has no model {known.repo_id} this token can see; check the access token in the preferences."
    elif _is_connection_failure(exc, LocalEntryNotFoundError):
        message = f"Cannot reach huggingface.co to download {known.title}; check the internet connection and try again."
    elif isinstance(exc, HfHubHTTPError):
        message = f"Downloading {known.title} failed ({exc}); try again later."
    elif isinstance(exc, OSError):
        message = f"Writing {known.title} to {cache_dir} failed ({exc}); free some disk space and try again."
    else:
        raise exc
    raise EngineError(message, "prior") from exc


def _is_connection_failure(exc: BaseException, cache_miss: type) -> bool:
    """No route to the hub: offline mode, a cache miss while unreachable, or the HTTP client's transport errors
    (matched by class name, as huggingface_hub's HTTP client library has changed over versions)."""
    if isinstance(exc, ConnectionError | TimeoutError | cache_miss):
        return True
    return any(cls.__name__ in ("TransportError", "ConnectionError") for cls in type(exc).__mro__)


def run(args: argparse.Namespace) -> int:
    if args.download:
        known = next(k for k in KNOWN_MODELS if k.repo_id == args.download)
        download(known, hub_cache_dir())
    protocol.emit(protocol.RESULT, **result_fields(discover(args.folder)))
    return 0
