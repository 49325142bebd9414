"""Fixtures and settings shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.build_extension import source_package

pytest_plugins = ["tests.fixtures.tiny_models"]

# The bridge modules use relative imports (``from ..engine import protocol``), as inside Blender: the repository
# root is imported as the package ``dreamfusion`` without running its bpy registration. Here, not in
# tests/bridge, so any one test folder (tests/engine imports the doctor's summary) also runs on its own.
source_package("dreamfusion")

# One procedural image-set cache for the whole suite (engine subprocesses, the add-on's worker and the
# benchmarks inherit it), kept between runs: image sets are keyed by prompt, settings and version.
PRIOR_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "prior-test"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("DREAMFUSION_CACHE", str(PRIOR_CACHE))
