"""docs/architecture.md names every module of the tree, so its layout cannot fall behind the code."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {"__init__.py", "__main__.py"}


def test_every_module_and_folder_is_in_the_layout() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    missing = []
    for name in tracked.stdout.split():
        path = Path(name)
        if path.parts[0] == "tests" or (path.name in SKIPPED and len(path.parts) > 1):
            continue
        if path.name not in doc or (len(path.parts) > 1 and f"{path.parts[-2]}/" not in doc):
            missing.append(name)
    assert not missing, f"docs/architecture.md does not mention: {', '.join(missing)}"
