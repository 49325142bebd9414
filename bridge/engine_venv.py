"""The engine's private environment: where it lives and what state it is in (standard library only, no bpy).

The private environment is a venv under the extension's user folder (the add-on folder may be
read-only). It counts as ready only while its ready marker exists and names the requirements of this
version of the extension: an install removes the marker before anything runs and writes it only after
pip and the engine's self-check both succeeded (``bridge.setup_jobs``), so an interrupted or failed
install shows as one. Reading the state starts no process, so a panel may do it on every redraw.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

ADDON_ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ADDON_ROOT / "engine" / "requirements-engine.txt"
ENV_DIR_NAME = "engine-env"
READY_MARKER = "dreamfusion-ready.json"
INSTALL_LOG_NAME = "engine-install.log"


def default_env_dir(user_dir: Path) -> Path:
    """The private environment, inside the extension's user folder."""
    return Path(user_dir) / ENV_DIR_NAME


def venv_python(env_dir: Path) -> Path:
    """The interpreter of a venv: Scripts\\python.exe on Windows, bin/python elsewhere."""
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def default_python_path(user_dir: Path) -> Path:
    return venv_python(default_env_dir(user_dir))


def install_log_path(env_dir: Path) -> Path:
    """Beside the environment, so it survives a rebuild of the environment."""
    return env_dir.parent / INSTALL_LOG_NAME


def base_python() -> Path:
    """The Python to build the venv from: Blender's bundled interpreter.

    Blender 4.2+ sets ``sys.executable`` to that interpreter (the bpy module: the host Python). Should it
    name Blender's own binary instead, the interpreter is found under ``sys.prefix``.
    """
    executable = Path(sys.executable)
    if executable.name.lower().startswith("python"):
        return executable
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    names = ("python.exe",) if os.name == "nt" else (f"bin/python{version}", "bin/python3")
    for name in names:
        candidate = Path(sys.prefix) / name
        if candidate.is_file():
            return candidate
    return executable


class EnvStatus(StrEnum):
    MISSING = "missing"
    INTERRUPTED = "interrupted"
    BROKEN = "broken"
    OUTDATED = "outdated"
    READY = "ready"


@dataclass(frozen=True)
class EnvState:
    """What the private environment is, in a word and in a sentence that says what to do."""

    status: EnvStatus
    message: str

    @property
    def ready(self) -> bool:
        return self.status is EnvStatus.READY


def requirements_digest(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def env_state(env_dir: Path, requirements: Path = REQUIREMENTS) -> EnvState:
    """Read the private environment's markers."""
    marker = env_dir / READY_MARKER
    if not env_dir.exists():
        return EnvState(EnvStatus.MISSING, "The engine is not installed yet; click Install Engine.")
    if not marker.is_file():
        return EnvState(EnvStatus.INTERRUPTED, "The last engine install did not finish; click Repair Engine.")
    if not venv_is_intact(env_dir):
        return EnvState(
            EnvStatus.BROKEN,
            "The engine environment is damaged (its Python is gone, perhaps with an old Blender); click Repair Engine.",
        )
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8")).get("requirements_sha256")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded != requirements_digest(requirements):
        return EnvState(
            EnvStatus.OUTDATED, "This version of the extension needs other engine packages; click Repair Engine."
        )
    return EnvState(EnvStatus.READY, "The engine is installed.")


def venv_is_intact(env_dir: Path) -> bool:
    """The venv's interpreter and the Python it was made from (pyvenv.cfg ``home``) both still exist."""
    if not venv_python(env_dir).exists():  # exists() follows the link to the base interpreter
        return False
    config = env_dir / "pyvenv.cfg"
    try:
        for line in config.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                return Path(value.strip()).is_dir()
    except OSError:
        return False
    return False
