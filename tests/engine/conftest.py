"""Fixtures the engine tests share."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    """The suite's environment for engine subprocesses, with its shared prior cache (tests/conftest.py)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}
