"""The set-up jobs the preferences start: install or repair the private environment, check the engine,
list or download models. Each is a ``SetupJob``, not yet started (standard library only, no bpy).

An install builds the venv from Blender's own Python and fills it with pip: torch first, from the index
that has the build for this machine, then ``engine/requirements-engine.txt``; or everything from a
local folder of wheels (studios without internet). Its last step is ``python -m engine doctor``, and
only a ready report writes the ready marker (``bridge.engine_venv``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..engine import __version__ as ENGINE_VERSION
from ..engine.atomic_write import write_text
from ..engine.payloads import DoctorReport, ModelList
from .command_line import ENGINE_CWD, engine_command
from .engine_venv import (
    READY_MARKER,
    REQUIREMENTS,
    install_log_path,
    requirements_digest,
    venv_is_intact,
    venv_python,
)
from .process_chain import SetupJob, SetupStep
from .torch_build import TorchBuild, detect_torch_build, torch_requirement

PIP_WITH_RAW_PROGRESS = "pip>=24.1"  # the first pip with ``--progress-bar raw`` (machine-readable download bytes)
PIP_OPTIONS = ("--disable-pip-version-check", "--no-input")


def folder_arguments(folders: list[Path]) -> list[str]:
    return [part for folder in folders for part in ("--folder", str(folder))]


def check_job(python: Path, device: str, folders: list[Path], log_path: Path) -> SetupJob:
    """``Check engine``: the doctor in the engine Python, for the device setting the user chose."""
    command = engine_command(python, "doctor", "--device", device, *folder_arguments(folders))
    return SetupJob([SetupStep("Checking the engine", command, ENGINE_CWD)], log_path)


def models_job(
    python: Path, folders: list[Path], log_path: Path, download: str | None = None, token: str = ""
) -> SetupJob:
    """The model list, optionally after downloading a known model (the token travels in the environment)."""
    args = [*folder_arguments(folders), *(("--download", download) if download else ())]
    label = f"Downloading {download}" if download else "Listing models"
    env = {"HF_TOKEN": token} if token else {}
    return SetupJob([SetupStep(label, engine_command(python, "models", *args), ENGINE_CWD)], log_path, env=env)


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
    if not venv_is_intact(plan.env_dir):
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
        SetupStep("Checking the engine", engine_command(plan.python, "doctor", "--device", "auto"), ENGINE_CWD, 0.07)
    )
    return steps


def write_ready_marker(plan: InstallPlan, doctor: DoctorReport) -> None:
    """Mark the environment ready (written atomically: a half-written marker never counts)."""
    record = {
        "engine": ENGINE_VERSION,
        "requirements_sha256": requirements_digest(plan.requirements),
        "python": doctor.python,
        "torch": doctor.torch,
        "device_auto": doctor.device_auto,
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

    def verify(report: DoctorReport | ModelList | None) -> str | None:
        if not isinstance(report, DoctorReport):
            return f"The engine's self-check printed no report; the log is {plan.log_path}."
        if not report.ready:
            problems = report.problems or ["it reported a problem"]
            return f"The packages were installed but the engine's self-check failed: {problems[0]}"
        write_ready_marker(plan, report)
        return None

    return SetupJob(install_steps(plan), plan.log_path, verify=verify, failure_hint="click Repair Engine to try again")
