"""Fixtures and settings shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.tiny_models"]

# One procedural image-set cache for the whole suite (engine subprocesses, the add-on's worker and the
# benchmarks inherit it), kept between runs: image sets are keyed by prompt, settings and version.
PRIOR_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "prior-test"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("DREAMFUSION_CACHE", str(PRIOR_CACHE))
