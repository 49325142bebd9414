"""Bad input to the engine set-up, in one sentence each: a Python that cannot run the engine, a folder of
wheels that cannot be installed from, an install that cannot start here (standard library only)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from ..engine.protocol import MIN_PYTHON
from .process_chain import last_line
from .worker import child_environment


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
        reason = last_line(result.stderr) or f"exit code {result.returncode}"
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
