"""Fixtures the engine tests share."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from collections.abc import Callable

import pytest

from engine import cli

Engine = Callable[..., tuple[int, list[dict]]]


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    """The suite's environment for engine subprocesses, with its shared prior cache (tests/conftest.py)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Engine:
    """``python -m engine ARGS`` in this process: (exit code, events). Its signal handlers are undone after."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def run(*argv: str) -> tuple[int, list[dict]]:
        try:
            code = cli.main(list(argv))
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        return code, [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]

    return run
