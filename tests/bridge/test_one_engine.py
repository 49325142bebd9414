"""The bridge tests import the repository as package ``dreamfusion``; its engine must be the one the engine tests
import as ``engine``, not a second copy of the same files (two ``EngineError`` classes, two protocols).
``tools.addon_package.source_package`` makes it so."""

from __future__ import annotations

import sys
from pathlib import Path

import dreamfusion.bridge.command_line
import dreamfusion.bridge.process_chain
import dreamfusion.bridge.worker

import engine.errors
import engine.payloads
import engine.protocol

ROOT = Path(__file__).resolve().parents[2]


def test_the_add_on_package_shares_the_engine_modules() -> None:
    assert sys.modules["dreamfusion.engine"] is sys.modules["engine"]
    assert dreamfusion.bridge.worker.protocol is engine.protocol
    assert dreamfusion.bridge.process_chain.PayloadError is engine.payloads.PayloadError
    from dreamfusion.engine.errors import EngineError

    assert EngineError is engine.errors.EngineError


def test_no_engine_file_is_loaded_as_two_modules() -> None:
    names_by_file: dict[Path, set[str]] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve().is_relative_to(ROOT / "engine"):
            names_by_file.setdefault(Path(path).resolve(), set()).add(module.__name__)  # an alias keeps its name
    assert names_by_file[ROOT / "engine" / "errors.py"] == {"engine.errors"}
    assert {path: names for path, names in names_by_file.items() if len(names) > 1} == {}
