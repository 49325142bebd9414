"""Setting up the engine's Python: real venvs filled by real pip from a local folder of wheels (no network),
the real doctor as the readiness check, and the one-sentence answers to bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest
from dreamfusion.bridge import (  # the repository as the add-on package (tests/conftest.py)
    engine_venv,
    process_chain,
    setup_checks,
    setup_jobs,
    torch_build,
)

from tests.bridge.doctor_reports import doctor_report

ROOT = Path(__file__).resolve().parents[2]


# -- a wheel made by hand -----------------------------------------------------------------------------


def build_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel with ``files`` (archive path -> text), valid for pip: METADATA, WHEEL, RECORD."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    contents = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    records = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        records.append(f"{path},sha256={digest},{len(text.encode())}")
    contents[f"{info}/RECORD"] = "\n".join([*records, f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
    return wheel


def dev_packages_wheel(folder: Path, name: str = "dev-packages", version: str = "1.0") -> Path:
    """A wheel whose .pth file lends the new venv this test environment's packages (torch and the rest),
    so the real doctor can pass without downloading gigabytes."""
    site_packages = sysconfig.get_paths()["purelib"]
    return build_wheel(folder, name, version, {"dev_packages.pth": site_packages + "\n"})


def run_to_end(job, timeout_s: float = 120.0):
    """Pump a job the way the add-on's timer does, until it finishes."""
    state = job.start()
    deadline = time.monotonic() + timeout_s
    while not state.finished:
        assert time.monotonic() < deadline, f"job still running: {state.message}"
        time.sleep(0.1)
        state = job.poll()
    return state


# -- installing from a folder of wheels ------------------------------------------------------------------


@pytest.mark.slow
def test_install_from_wheels_is_marked_ready_only_after_pip_and_the_doctor_succeed(tmp_path: Path) -> None:
    """One real venv through a failed pip, a failed self-check and a repair: ready only at the end."""
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "tiny-engine-part", "0.1", {"tiny_engine_part.py": "VALUE = 42\n"})
    requirements = tmp_path / "requirements-engine.txt"
    env_dir = tmp_path / "user" / engine_venv.ENV_DIR_NAME
    plan = setup_jobs.InstallPlan(sys.executable, env_dir, requirements, wheels_dir=wheels)

    # 1. A requirement the folder does not have: pip fails, the sentence names it and the log.
    requirements.write_text("tiny-engine-part==0.1\nnot-in-the-folder==1.0\n")
    state = run_to_end(setup_jobs.install_job(plan))
    assert state.status == "failed"
    assert state.error.startswith("Installing packages from wheels failed (")
    assert "not-in-the-folder==1.0" in state.error and str(plan.log_path) in state.error
    assert "Repair Engine" in state.error
    assert engine_venv.env_state(env_dir, requirements).status == "interrupted"
    assert not (env_dir / engine_venv.READY_MARKER).exists()

    # 2. Packages installed, but no torch: the doctor says so, and the environment is still not ready.
    requirements.write_text("tiny-engine-part==0.1\n")
    state = run_to_end(setup_jobs.install_job(plan))
    assert state.status == "failed"
    assert state.error.startswith(
        "The packages were installed but the engine's self-check failed: This Python lacks torch"
    )
    assert engine_venv.env_state(env_dir, requirements).status == "interrupted"
    check = subprocess.run(
        [str(plan.python), "-c", "import tiny_engine_part as t; print(t.VALUE)"], capture_output=True, text=True
    )
    assert check.stdout.strip() == "42"

    # 3. Repair with the engine's packages available: the venv is kept, the doctor passes, the marker is written.
    dev_packages_wheel(wheels)
    requirements.write_text("tiny-engine-part==0.1\ndev-packages==1.0\n")
    job = setup_jobs.install_job(plan)
    assert [step.label for step in job.steps] == ["Installing packages from wheels", "Checking the engine"]
    state = run_to_end(job)
    assert state.status == "done", state.error
    assert state.fraction == 1.0 and state.result.ready is True
    assert engine_venv.env_state(env_dir, requirements).status == "ready"
    marker = json.loads((env_dir / engine_venv.READY_MARKER).read_text())
    assert marker["requirements_sha256"] == engine_venv.requirements_digest(requirements)
    assert marker["torch"] == state.result.torch and marker["device_auto"] == "cpu"
    log = plan.log_path.read_text()
    assert "Successfully installed dev-packages-1.0" in log and '"command": "doctor"' in log


def test_an_interrupted_install_is_not_ready(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "tiny-engine-part", "0.1", {"tiny_engine_part.py": "VALUE = 1\n"})
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tiny-engine-part==0.1\n")
    env_dir = tmp_path / "env"
    job = setup_jobs.install_job(setup_jobs.InstallPlan(sys.executable, env_dir, requirements, wheels_dir=wheels))
    state = job.start()
    assert job.steps[0].label == "Creating the engine environment" and state.message == job.steps[0].label
    job.cancel()
    deadline = time.monotonic() + 30
    while not state.finished and time.monotonic() < deadline:
        time.sleep(0.05)
        state = job.poll()
    assert state.status == "cancelled"
    env = engine_venv.env_state(env_dir, requirements)
    assert env.status == "interrupted"
    assert env.message == "The last engine install did not finish; click Repair Engine."


# -- the environment's state ------------------------------------------------------------------------------


def make_venv(env_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)


def mark_ready(env_dir: Path, requirements: Path) -> None:
    plan = setup_jobs.InstallPlan(Path(sys.executable), env_dir, requirements)
    setup_jobs.write_ready_marker(plan, doctor_report(python="3.11", torch="2.13.0", device_auto="cpu"))


def test_environment_states_and_their_sentences(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("torch==2.13.0\n")
    env_dir = tmp_path / "env"
    missing = engine_venv.env_state(env_dir, requirements)
    assert (missing.status, missing.message) == ("missing", "The engine is not installed yet; click Install Engine.")

    make_venv(env_dir)
    assert engine_venv.env_state(env_dir, requirements).status == "interrupted"  # no marker: never finished
    mark_ready(env_dir, requirements)
    assert engine_venv.env_state(env_dir, requirements).ready

    requirements.write_text("torch==2.13.0\ndiffusers==0.42.1\n")  # a newer extension needs more
    outdated = engine_venv.env_state(env_dir, requirements)
    assert outdated.status == "outdated" and outdated.message.endswith("click Repair Engine.")

    mark_ready(env_dir, requirements)
    config = env_dir / "pyvenv.cfg"  # the Python it was built from is gone (an uninstalled Blender)
    config.write_text(re.sub(r"(?m)^home = .*$", f"home = {tmp_path / 'old-blender'}", config.read_text()))
    broken = engine_venv.env_state(env_dir, requirements)
    assert broken.status == "broken" and "damaged" in broken.message
    steps = setup_jobs.install_steps(setup_jobs.InstallPlan(Path(sys.executable), env_dir, requirements, tmp_path))
    assert steps[0].command[1:4] == ["-m", "venv", "--clear"]  # repair rebuilds the venv


# -- bad input --------------------------------------------------------------------------------------------


def test_python_path_problems_are_one_sentence_each(tmp_path: Path) -> None:
    assert setup_checks.python_problem(Path(sys.executable)) is None

    nowhere = tmp_path / "no" / "python"
    assert setup_checks.python_problem(nowhere) == (
        f"No Python found at {nowhere}; choose another Python, or clear Engine Python to use the private environment."
    )
    assert setup_checks.python_problem(tmp_path) == (
        f"{tmp_path} is a folder, not a Python program; choose the python executable inside it."
    )
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    assert setup_checks.python_problem(text_file) == f"{text_file} is not a program; choose a Python executable."

    not_python = tmp_path / "not-python"
    not_python.write_text("#!/bin/sh\necho 'cannot execute binary file' >&2\nexit 126\n")
    not_python.chmod(0o755)
    assert setup_checks.python_problem(not_python) == (
        f"{not_python} did not run as Python (cannot execute binary file); choose another Python."
    )


@pytest.mark.skipif(os.name != "posix", reason="uses a shell script as a stand-in for an old interpreter")
def test_a_too_old_python_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "python3.8"
    old.write_text("#!/bin/sh\necho 3.8\n")
    old.chmod(0o755)
    assert setup_checks.python_problem(old) == (
        f"{old} is Python 3.8, and the engine needs Python 3.10 or newer; choose another Python."
    )


def test_install_refuses_to_start_without_a_way_to_get_packages(tmp_path: Path) -> None:
    offline = setup_checks.install_problem(False, None, "Linux", "x86_64")
    assert offline == (
        "Blender is set to work offline; allow online access in Preferences > System > Network, "
        "or choose a folder of wheels to install from."
    )
    assert setup_checks.install_problem(True, None, "Linux", "x86_64") is None
    assert "Intel Macs" in setup_checks.install_problem(True, None, "Darwin", "x86_64")
    assert setup_checks.install_problem(False, tmp_path / "none", "Linux", "x86_64") == (
        f"The wheels folder {tmp_path / 'none'} does not exist; choose the folder of wheels your studio prepared."
    )
    assert "has no .whl files" in setup_checks.install_problem(False, tmp_path, "Linux", "x86_64")
    build_wheel(tmp_path, "anything", "1.0", {"anything.py": ""})
    assert setup_checks.install_problem(False, tmp_path, "Linux", "x86_64") is None  # offline is fine with wheels


# -- choices ------------------------------------------------------------------------------------------------


def test_torch_build_follows_the_platform() -> None:
    choose = torch_build.choose_torch_build
    assert choose("Linux", "x86_64", True) == torch_build.TorchBuild("cuda", None)  # PyPI's Linux torch is CUDA
    assert choose("Windows", "AMD64", True) == torch_build.TorchBuild("cuda", torch_build.CUDA_INDEX_URL)
    assert choose("Linux", "x86_64", False) == torch_build.TorchBuild("cpu", torch_build.CPU_INDEX_URL)
    assert choose("Windows", "AMD64", False) == torch_build.TorchBuild("cpu", torch_build.CPU_INDEX_URL)
    assert choose("Darwin", "arm64", False) == torch_build.TorchBuild("mps", None)


def test_online_install_gets_torch_from_the_chosen_index_then_the_rest(tmp_path: Path) -> None:
    build = torch_build.TorchBuild("cpu", "URL")
    plan = setup_jobs.InstallPlan(Path(sys.executable), tmp_path / "env", engine_venv.REQUIREMENTS, torch_build=build)
    commands = {step.label: step.command for step in setup_jobs.install_steps(plan)}
    assert list(commands) == [
        "Creating the engine environment",
        "Updating pip",
        "Installing torch (cpu)",
        "Installing the engine's packages",
        "Checking the engine",
    ]
    assert commands["Installing torch (cpu)"][-3:] == ["--index-url", "URL", "torch==2.13.0"]
    assert commands["Installing the engine's packages"][-2:] == ["-r", str(engine_venv.REQUIREMENTS)]
    assert commands["Checking the engine"] == [str(plan.python), "-m", "engine", "doctor", "--device", "auto"]


def test_engine_requirements_pin_what_the_dev_environment_tests() -> None:
    """Every version the engine's environment pins is the one the test suite runs with."""

    def pins(path: Path) -> dict[str, str]:
        found = re.findall(r"(?m)^([A-Za-z0-9_.-]+)==([^\s#]+)", path.read_text())
        return {name.lower(): version for name, version in found}

    engine_pins, dev_pins = pins(engine_venv.REQUIREMENTS), pins(ROOT / "requirements.txt")
    assert engine_pins and all(dev_pins.get(name) == version for name, version in engine_pins.items())
    assert torch_build.torch_requirement(engine_venv.REQUIREMENTS) == f"torch=={dev_pins['torch']}"


def test_pip_progress_lines() -> None:
    progress = process_chain.pip_progress
    assert progress("Progress 262144 of 1048576") == (0.25, None)  # pip 24.1+ --progress-bar raw
    assert progress("  Progress 1048576 of 1048576 bytes") == (1.0, None)  # later pips name the unit
    assert progress("Collecting torch==2.13.0") == (None, "Collecting torch==2.13.0")
    assert progress("  Downloading torch-2.13.0-cp311-none-linux_x86_64.whl (190.6 MB)")[1].startswith("Downloading")
    assert progress("Requirement already satisfied: numpy") == (None, None)


def test_private_environment_paths(tmp_path: Path) -> None:
    expected = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    assert engine_venv.default_python_path(tmp_path) == tmp_path / "engine-env" / expected
    assert engine_venv.base_python() == Path(sys.executable)  # outside Blender: this interpreter
