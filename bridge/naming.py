"""Names derived from a prompt: the Blender object's name and the run folder's name."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path

BLENDER_NAME_BYTES = 63  # Blender truncates ID names longer than this (in UTF-8 bytes)
SLUG_CHARS = 40
FALLBACK_NAME = "DreamFusion"


def object_name(prompt: str) -> str:
    """The prompt with its whitespace collapsed, cut to what Blender keeps of a name, on a character boundary."""
    name = " ".join(prompt.split())
    name = name.encode("utf-8")[:BLENDER_NAME_BYTES].decode("utf-8", "ignore").rstrip()
    return name or FALLBACK_NAME


def slug(prompt: str) -> str:
    """ASCII, lower case, dashes: safe in a folder name on every platform."""
    ascii_text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return text[:SLUG_CHARS].rstrip("-") or "run"


def new_run_dir(root: Path, prompt: str, when: datetime) -> Path:
    """A folder under ``root`` that does not exist yet: time stamp plus slug, with a counter if needed."""
    base = f"{when:%Y%m%d-%H%M%S}-{slug(prompt)}"
    candidate = root / base
    counter = 2
    while candidate.exists():
        candidate = root / f"{base}-{counter}"
        counter += 1
    return candidate
