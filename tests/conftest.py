"""Fixtures and settings shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.addon_package import source_package

pytest_plugins = ["tests.fixtures.tiny_models"]

# The bridge modules use relative imports (``from ..engine import protocol``), as inside Blender: the repository
# root is imported as the package ``dreamfusion`` without running its bpy registration. Here, not in
# tests/bridge, so any one test folder (tests/engine imports the doctor's summary) also runs on its own.
source_package("dreamfusion")

# One procedural image-set cache for the whole suite (engine subprocesses, the add-on's worker and the
# benchmarks inherit it), kept between runs: image sets are keyed by prompt, settings and version.
PRIOR_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "prior-test"


# A test over this many seconds belongs to the slow set: `-m "not slow"` is the fast inner loop.
SLOW_TEST_S = 3.0


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("DREAMFUSION_CACHE", str(PRIOR_CACHE))
    config.stash[_UNMARKED_SLOW] = []


_UNMARKED_SLOW = pytest.StashKey[list[tuple[str, float]]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Notes each test that took over SLOW_TEST_S in its setup, call or teardown without the ``slow`` mark."""
    report = yield
    if report.passed and call.duration > SLOW_TEST_S and item.get_closest_marker("slow") is None:
        item.config.stash[_UNMARKED_SLOW].append((f"{item.nodeid} ({report.when})", call.duration))
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Names the tests that leak into the fast loop, slowest first, so they get ``@pytest.mark.slow``."""
    offenders = sorted(config.stash[_UNMARKED_SLOW], key=lambda entry: -entry[1])
    if offenders:
        terminalreporter.section(f"unmarked tests over {SLOW_TEST_S:.0f} s (mark them slow)")
        for name, seconds in offenders:
            terminalreporter.write_line(f"{seconds:6.1f} s  {name}")
