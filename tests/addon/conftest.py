"""The add-on tests drive the real extension in the bpy module: the zip built by tools/build_extension.py,
installed with ``bpy.ops.extensions.package_install_files`` under a temporary HOME (set by addon_harness
before bpy is imported), enabled, and run through its operators against the fake engine
(tests/fixtures/fake_engine.py) or the real one.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.addon.addon_harness import PACKAGE, TEMP_HOME, bpy, preferences, runs  # sets HOME, imports bpy
from tools.build_extension import build


@pytest.fixture(scope="session")
def built_zip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield build(tmp_path_factory.mktemp("dist"))
    shutil.rmtree(TEMP_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def extension(built_zip: Path) -> ModuleType:
    """The installed, enabled extension package."""
    result = bpy.ops.extensions.package_install_files(
        filepath=str(built_zip), repo="user_default", enable_on_install=True
    )
    assert result == {"FINISHED"}
    assert PACKAGE in bpy.context.preferences.addons
    return importlib.import_module(PACKAGE)


@pytest.fixture
def addon(extension: ModuleType) -> Iterator[ModuleType]:
    """The extension with an empty scene; any run is stopped afterwards."""
    runs().shutdown()
    bpy.ops.wm.read_homefile(use_empty=True)
    preferences().engine_python = ""
    yield extension
    runs().shutdown()
