"""The add-on's imports run one way, from bpy-free helpers up to the UI, and none hides inside a function.

Layers, lowest first: the engine modules the add-on may import (standard library only), ``bridge`` (no bpy),
the code that builds Blender data and text (``scene``, ``ui_text``), ``runtime`` (the job slots),
``preferences`` and ``properties``, ``operators``, ``panels``, and ``__init__`` that registers them all.
A module imports only from lower layers or from its own package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {
    "engine": 0,
    "bridge": 1,
    "scene": 2,
    "ui_text": 2,
    "runtime": 3,
    "preferences": 4,
    "properties": 4,
    "operators": 5,
    "panels": 6,
    "__init__": 7,
}
ADDON_FILES = sorted(
    [*ROOT.glob("*.py"), *(path for folder in ("bridge", "runtime", "operators", "panels", "scene")
                           for path in (ROOT / folder).rglob("*.py"))]
)  # fmt: skip


def part_of(path: Path) -> str:
    """The add-on part a file belongs to: its top folder, or its own name for a file at the root."""
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def imported_parts(path: Path, tree: ast.Module) -> set[str]:
    """The add-on parts ``path`` imports from, resolving its relative imports against its package."""
    package = list(path.relative_to(ROOT).parts[:-1])
    parts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[: len(package) - (node.level - 1)]
            targets = [base + node.module.split(".")] if node.module else [[*base, a.name] for a in node.names]
            parts |= {target[0] if target else "__init__" for target in targets}
    return parts


def test_every_add_on_file_has_a_layer() -> None:
    assert {part_of(path) for path in ADDON_FILES} == set(LAYERS) - {"engine"}


@pytest.mark.parametrize("path", ADDON_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_imports_run_from_the_helpers_up_to_the_ui(path: Path) -> None:
    own = part_of(path)
    upward = {
        part
        for part in imported_parts(path, ast.parse(path.read_text()))
        if part != own and LAYERS[part] >= LAYERS[own]
    }
    assert upward == set(), f"{path.relative_to(ROOT)} ({own}) imports from its own layer or above"


@pytest.mark.parametrize("path", ADDON_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_import_hides_inside_a_function(path: Path) -> None:
    tree = ast.parse(path.read_text())
    nested = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and node not in tree.body
    ]
    assert nested == [], f"{path.relative_to(ROOT)}: imports below the module level at lines {nested}"
