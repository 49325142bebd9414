"""Setting up the engine's Python from inside Blender: the private environment, its packages, its self-check.

The private environment is a venv under the extension's user folder, built from Blender's own Python
and filled with pip: torch first, from the index that has the build for this machine, then
``engine/requirements-engine.txt``, or everything from a local folder of wheels (studios without internet).
It counts as ready only while a ready marker exists: an install removes it before anything runs and
writes it only after pip and ``python -m engine doctor`` both succeeded, so an interrupted or failed
install shows as one. Each step is a child process run by the worker (argument lists, never a shell),
one after another, pumped by a UI timer through ``SetupJob.poll``. Standard library only, no bpy.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..engine import __version__ as ENGINE_VERSION
from ..engine import protocol
from ..engine.atomic_write import write_text
from .model_list import format_bytes
from .worker import (
    EngineWorker,
    EventMessage,
    ExitMessage,
    LogMessage,
    StopTimeouts,
    WorkerStartError,
    child_environment,
)

ADDON_ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ADDON_ROOT / "engine" / "requirements-engine.txt"
ENV_DIR_NAME = "engine-env"
READY_MARKER = "dreamfusion-ready.json"
INSTALL_LOG_NAME = "engine-install.log"
MIN_PYTHON = (3, 10)

CPU_INDEX_URL = "https://download.pytorch.org/whl/cpu"
CUDA_INDEX_URL = "https://download.pytorch.org/whl/cu128"  # Windows only: PyPI's Windows torch is CPU-only
PIP_WITH_RAW_PROGRESS = "pip>=24.1"  # the first pip with ``--progress-bar raw`` (machine-readable download bytes)
PIP_OPTIONS = ("--disable-pip-version-check", "--no-input")


# -- where things are -----------------------------------------------------------------------------


def default_env_dir(user_dir: Path) -> Path:
    """The private environment, inside the extension's user folder (the add-on folder may be read-only)."""
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


# -- which torch ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TorchBuild:
    """The torch build for this machine and the package index that has it (None: PyPI's default)."""

    name: str  # "cuda" | "mps" | "cpu"
    index_url: str | None


def choose_torch_build(system: str, machine: str, has_nvidia_gpu: bool) -> TorchBuild:
    """CUDA where an NVIDIA GPU is present, MPS on Apple silicon, CPU otherwise.

    PyPI's Linux x86-64 torch is already the CUDA build; Windows needs PyTorch's CUDA index; the CPU
    index spares machines without a GPU gigabytes of CUDA libraries.
    """
    if system == "Darwin":
        return TorchBuild("mps" if machine == "arm64" else "cpu", None)
    if has_nvidia_gpu and system == "Linux":
        return TorchBuild("cuda", None)
    if has_nvidia_gpu and system == "Windows":
        return TorchBuild("cuda", CUDA_INDEX_URL)
    return TorchBuild("cpu", CPU_INDEX_URL)


def detect_torch_build() -> TorchBuild:
    """``choose_torch_build`` for this machine; an NVIDIA driver is recognised by its ``nvidia-smi``."""
    return choose_torch_build(platform.system(), platform.machine(), shutil.which("nvidia-smi") is not None)


def torch_requirement(requirements: Path) -> str:
    """The torch line of the requirements file (one source of the pinned version)."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if re.match(r"^torch(?![\w.-])", text):
            return text
    raise ValueError(f"{requirements} has no torch requirement")


# -- bad input, in one sentence each ---------------------------------------------------------------


def python_problem(path: Path, timeout_s: float = 30.0) -> str | None:
    """Why ``path`` cannot serve as the engine's Python, or None; it is run once to read its version."""
    if not path.exists():
        return (
            f"No Python found at {path}; choose another Python, or clear Engine Python to use the private environment."
        )
    if path.is_dir():
        return f"{path} is a folder, not a Python program; choose the python executable inside it."
    if not os.access(path, os.X_OK):
        return f"{path} is not a program; choose a Python executable."
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        result = subprocess.run(
            [str(path), "-c", probe], capture_output=True, text=True, timeout=timeout_s, env=child_environment()
        )
    except OSError as exc:
        return f"{path} could not be run ({exc.strerror or exc}); choose another Python."
    except subprocess.TimeoutExpired:
        return f"{path} did not answer within {timeout_s:.0f} s; choose another Python."
    match = re.fullmatch(r"(\d+)\.(\d+)", result.stdout.strip())
    if result.returncode != 0 or match is None:
        reason = _last_line(result.stderr) or f"exit code {result.returncode}"
        return f"{path} did not run as Python ({reason}); choose another Python."
    version = (int(match[1]), int(match[2]))
    if version < MIN_PYTHON:
        return (
            f"{path} is Python {version[0]}.{version[1]}, and the engine needs Python "
            f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer; choose another Python."
        )
    return None


def wheels_problem(wheels_dir: Path) -> str | None:
    """Why a folder of wheels cannot be installed from, or None."""
    if not wheels_dir.is_dir():
        return f"The wheels folder {wheels_dir} does not exist; choose the folder of wheels your studio prepared."
    if not any(wheels_dir.glob("*.whl")):
        return f"The wheels folder {wheels_dir} has no .whl files; choose the folder of wheels your studio prepared."
    return None


def install_problem(online_access: bool, wheels_dir: Path | None, system: str, machine: str) -> str | None:
    """Why "Install engine" cannot start here, or None (``online_access``: Blender's bpy.app.online_access)."""
    if wheels_dir is not None:
        return wheels_problem(wheels_dir)
    if not online_access:
        return (
            "Blender is set to work offline; allow online access in Preferences > System > Network, "
            "or choose a folder of wheels to install from."
        )
    if system == "Darwin" and machine != "arm64":
        return "PyTorch no longer publishes builds for Intel Macs; set Engine Python to a Python that has torch."
    return None


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
    """Read the private environment's markers (no process is started, so it is cheap enough for a panel)."""
    marker = env_dir / READY_MARKER
    if not env_dir.exists():
        return EnvState(EnvStatus.MISSING, "The engine is not installed yet; click Install Engine.")
    if not marker.is_file():
        return EnvState(EnvStatus.INTERRUPTED, "The last engine install did not finish; click Repair Engine.")
    if not _venv_is_intact(env_dir):
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


def _venv_is_intact(env_dir: Path) -> bool:
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


# -- running steps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupStep:
    """One child process of a set-up job and its share of the progress bar."""

    label: str  # "Installing torch": what the panel shows while it runs
    command: list[str]
    cwd: Path
    weight: float = 1.0


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class JobState:
    """What the panel shows of a job: a progress bar, a line of text, the result or one error sentence."""

    status: JobStatus = JobStatus.RUNNING
    fraction: float = 0.0
    message: str = "Starting"
    error: str = ""
    result: dict[str, Any] | None = None  # the last ``result`` event of the steps
    log_tail: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status is not JobStatus.RUNNING


_PIP_BYTES = re.compile(r"Progress (\d+) of (\d+)")
_PIP_ACTIVITY = re.compile(r"^\s*(Collecting|Downloading|Processing|Installing collected packages|Successfully)")
_NETWORK_TROUBLE = ("NewConnectionError", "Failed to establish a new connection", "Name or service not known")
LOG_TAIL_LINES = 20


def pip_progress(line: str) -> tuple[float | None, str | None]:
    """(fraction of the current download, activity to show) read from one line of pip's output."""
    match = _PIP_BYTES.search(line)
    if match:
        done, total = int(match[1]), int(match[2])
        return (done / total if total > 0 else None), None
    if _PIP_ACTIVITY.match(line):
        return None, _shorten(line.strip())
    return None, None


class SetupJob:
    """Steps run one after another in child processes; ``poll`` (main thread, from a timer) advances them.

    ``verify`` runs once every step has succeeded, with the last ``result`` event; it returns an error
    sentence to fail the job, or None.
    """

    def __init__(
        self,
        steps: list[SetupStep],
        log_path: Path,
        env: dict[str, str] | None = None,
        verify: Callable[[dict[str, Any] | None], str | None] | None = None,
        failure_hint: str = "",
    ) -> None:
        self.steps = steps
        self.log_path = log_path
        self.env = env or {}
        self.verify = verify
        self.failure_hint = failure_hint  # appended to a failed step's sentence: what to do next
        self.state = JobState()
        self._index = -1
        self._worker: EngineWorker | None = None
        self._step_fraction = 0.0
        self._error_event = ""
        self._cancelled = False

    def start(self) -> JobState:
        self._next_step()
        return self.state

    def cancel(self) -> None:
        """Stop the running step (SIGTERM to its process group at once: pip has nothing to save)."""
        self._cancelled = True
        if self._worker is not None:
            self._worker.request_stop()

    def shutdown(self) -> None:
        """Stop for good, blocking briefly (for unregister)."""
        self._cancelled = True
        if self._worker is not None:
            self._worker.shutdown()

    def poll(self) -> JobState:
        """Fold in everything the running step printed; start the next step when it has exited."""
        worker = self._worker
        if worker is None or self.state.finished:
            return self.state
        worker.escalate()
        for message in worker.drain():
            if isinstance(message, EventMessage):
                self._on_event(message.event)
            elif isinstance(message, LogMessage):
                self._on_line(message.line)
            elif isinstance(message, ExitMessage):
                self._on_exit(message.returncode)
                break
        return self.state

    # -- internals ---------------------------------------------------------------------------------

    def _next_step(self) -> None:
        self._index += 1
        self._step_fraction = 0.0
        self._error_event = ""
        if self._index >= len(self.steps):
            error = self.verify(self.state.result) if self.verify is not None else None
            self._finish(JobStatus.FAILED if error else JobStatus.DONE, error or "", "Failed" if error else "Done")
            return
        step = self.steps[self._index]
        self.state.message = step.label
        self._update_fraction()
        _append_to_log(self.log_path, f"\n$ {' '.join(step.command)}\n")
        self._worker = EngineWorker(
            step.command, cwd=step.cwd, log_path=self.log_path, timeouts=StopTimeouts(0.0, 2.0), env=self.env
        )
        try:
            self._worker.start()
        except WorkerStartError as exc:
            self._finish(JobStatus.FAILED, f"{exc}.", "Failed")

    def _on_event(self, event: dict[str, Any]) -> None:
        name = event.get("event")
        if name == protocol.RESULT:
            self.state.result = event
        elif name == protocol.ERROR:
            self._error_event = str(event.get("message") or "")
        elif name == protocol.STAGE and event.get("message"):
            self.state.message = str(event["message"])
            fraction = event.get("fraction")
            if fraction is not None:
                self._step_fraction = float(fraction)
                self._update_fraction()

    def _on_line(self, line: str) -> None:
        self.state.log_tail = [*self.state.log_tail, line][-LOG_TAIL_LINES:]
        fraction, activity = pip_progress(line)
        if fraction is not None:
            self._step_fraction = fraction
            self._update_fraction()
        if activity is not None:
            self.state.message = f"{self.steps[self._index].label}: {activity}"

    def _on_exit(self, returncode: int) -> None:
        step = self.steps[self._index]
        if self._cancelled:
            self._finish(JobStatus.CANCELLED, "", "Cancelled")
        elif returncode != 0:
            self._finish(JobStatus.FAILED, self._failure_sentence(step, returncode), "Failed")
        else:
            self._next_step()

    def _failure_sentence(self, step: SetupStep, returncode: int) -> str:
        if self._error_event:
            return self._error_event
        tail = self.state.log_tail
        if any(marker in line for line in tail for marker in _NETWORK_TROUBLE):
            reason = "the package index cannot be reached; check the internet connection or install from wheels"
        else:
            errors = [line.removeprefix("ERROR: ") for line in tail if line.startswith("ERROR:")]
            reason = _shorten(errors[-1] if errors else _last_line("\n".join(tail)) or f"exit code {returncode}")
        hint = f"; {self.failure_hint}" if self.failure_hint else ""
        return f"{step.label} failed ({reason}){hint}; the log is {self.log_path}."

    def _update_fraction(self) -> None:
        total = sum(step.weight for step in self.steps) or 1.0
        done = sum(step.weight for step in self.steps[: self._index])
        current = self.steps[self._index].weight * min(max(self._step_fraction, 0.0), 1.0)
        self.state.fraction = max(self.state.fraction, (done + current) / total)

    def _finish(self, status: JobStatus, error: str, message: str) -> None:
        self.state.status = status
        self.state.error = error
        self.state.message = message
        if status is JobStatus.DONE:
            self.state.fraction = 1.0
        self._worker = None


def _append_to_log(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        log.write(text)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the engine's commands ----------------------------------------------------------------------------


def engine_command(python: Path, command: str, *args: str) -> list[str]:
    """``python -m engine COMMAND ARGS`` as an argument list (run with the add-on folder as cwd)."""
    return [str(python), "-m", "engine", command, *args]


def folder_arguments(folders: list[Path]) -> list[str]:
    return [part for folder in folders for part in ("--folder", str(folder))]


def check_job(python: Path, device: str, folders: list[Path], log_path: Path) -> SetupJob:
    """``Check engine``: the doctor in the engine Python, for the device setting the user chose."""
    command = engine_command(python, "doctor", "--device", device, *folder_arguments(folders))
    return SetupJob([SetupStep("Checking the engine", command, ADDON_ROOT)], log_path)


def models_job(
    python: Path, folders: list[Path], log_path: Path, download: str | None = None, token: str = ""
) -> SetupJob:
    """The model list, optionally after downloading a known model (the token travels in the environment)."""
    args = [*folder_arguments(folders), *(("--download", download) if download else ())]
    label = f"Downloading {download}" if download else "Listing models"
    env = {"HF_TOKEN": token} if token else {}
    return SetupJob([SetupStep(label, engine_command(python, "models", *args), ADDON_ROOT)], log_path, env=env)


# -- installing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallPlan:
    """Everything one install or repair of the private environment needs."""

    base_python: Path
    env_dir: Path
    requirements: Path = REQUIREMENTS
    wheels_dir: Path | None = None  # install only from here (``--no-index``): no network
    torch_build: TorchBuild | None = None  # online installs: where torch comes from

    @property
    def python(self) -> Path:
        return venv_python(self.env_dir)

    @property
    def log_path(self) -> Path:
        return install_log_path(self.env_dir)


def install_steps(plan: InstallPlan) -> list[SetupStep]:
    """The child processes of an install: venv (new, or rebuilt when damaged), packages, self-check."""
    python = str(plan.python)
    pip = [python, "-m", "pip", "install", *PIP_OPTIONS]
    workdir = plan.env_dir.parent
    steps = []
    if not _venv_is_intact(plan.env_dir):
        venv = [str(plan.base_python), "-m", "venv", "--clear", str(plan.env_dir)]
        steps.append(SetupStep("Creating the engine environment", venv, workdir, weight=0.05))
    if plan.wheels_dir is not None:
        local = ["--no-index", "--find-links", str(plan.wheels_dir), "--progress-bar", "off"]
        steps.append(
            SetupStep("Installing packages from wheels", [*pip, *local, "-r", str(plan.requirements)], workdir, 0.85)
        )
    else:
        build = plan.torch_build or detect_torch_build()
        index = ["--index-url", build.index_url] if build.index_url else []
        raw = ["--progress-bar", "raw"]
        steps += [
            SetupStep("Updating pip", [*pip, "--upgrade", PIP_WITH_RAW_PROGRESS], workdir, 0.03),
            SetupStep(
                f"Installing torch ({build.name})",
                [*pip, *raw, *index, torch_requirement(plan.requirements)],
                workdir,
                0.55,
            ),
            SetupStep("Installing the engine's packages", [*pip, *raw, "-r", str(plan.requirements)], workdir, 0.3),
        ]
    steps.append(
        SetupStep("Checking the engine", engine_command(plan.python, "doctor", "--device", "auto"), ADDON_ROOT, 0.07)
    )
    return steps


def write_ready_marker(plan: InstallPlan, doctor: dict[str, Any]) -> None:
    """Mark the environment ready (written atomically: a half-written marker never counts)."""
    record = {
        "engine": ENGINE_VERSION,
        "requirements_sha256": requirements_digest(plan.requirements),
        "python": doctor.get("python"),
        "torch": doctor.get("torch"),
        "device_auto": doctor.get("device_auto"),
        "source": str(plan.wheels_dir) if plan.wheels_dir else (plan.torch_build.name if plan.torch_build else ""),
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_text(plan.env_dir / READY_MARKER, json.dumps(record, indent=2))


def install_job(plan: InstallPlan) -> SetupJob:
    """An install or repair, not yet started: the environment stops counting as ready before anything runs."""
    plan.env_dir.mkdir(parents=True, exist_ok=True)
    (plan.env_dir / READY_MARKER).unlink(missing_ok=True)
    plan.log_path.write_text(
        f"DreamFusion engine install, {time.strftime('%Y-%m-%d %H:%M:%S')}\nenvironment: {plan.env_dir}\n",
        encoding="utf-8",
    )

    def verify(result: dict[str, Any] | None) -> str | None:
        if result is None or result.get("command") != "doctor":
            return f"The engine's self-check printed no report; the log is {plan.log_path}."
        if not result.get("ready"):
            problems = result.get("problems") or ["it reported a problem"]
            return f"The packages were installed but the engine's self-check failed: {problems[0]}"
        write_ready_marker(plan, result)
        return None

    return SetupJob(install_steps(plan), plan.log_path, verify=verify, failure_hint="click Repair Engine to try again")


# -- what the panel shows of a doctor report --------------------------------------------------------------


def doctor_summary(result: dict[str, Any]) -> list[str]:
    """A few short lines for the preferences panel: versions, device, free memory, models present."""
    packages = result.get("packages") or {}
    versions = [
        f"Python {result.get('python', '?')}",
        f"engine {result.get('engine', '?')}",
        f"torch {result.get('torch') or 'missing'}",
        f"diffusers {packages.get('diffusers') or 'missing'}",
    ]
    lines = [" · ".join(versions)]
    device = result.get("device")
    requested = result.get("device_requested", "auto")
    if device:
        text = f"Device: {device}" + (" (auto)" if requested == "auto" else "")
        for gpu in (result.get("cuda") or {}).get("devices", []) if device == "cuda" else []:
            text += f" · {gpu['name']}, {format_bytes(gpu['free_bytes'])} of {format_bytes(gpu['total_bytes'])} free"
        lines.append(text)
    elif requested != "auto":
        lines.append(f"Device: {requested} is not available here (auto would use {result.get('device_auto') or '?'})")
    memory = result.get("memory") or {}
    lines.append(
        f"Memory: {format_bytes(memory.get('available_bytes'))} of {format_bytes(memory.get('total_bytes'))} free"
    )
    present = [m for m in result.get("models") or [] if m.get("present")]
    complete = [m["name"] for m in present if m.get("complete")]
    lines.append(
        f"Models: {', '.join(complete) or 'none'}"
        + (f" ({len(present) - len(complete)} incomplete)" if len(present) > len(complete) else "")
    )
    return lines
