"""The PROMPTS file of a batch: one prompt a line, or JSON lines with per-prompt overrides.

    a red cube
    # comments and blank lines are skipped
    {"prompt": "a yellow duck", "seed": 3, "preset": "fast", "prior": "procedural", "steps": 400}

Every line is checked before anything runs; a mistake is an error naming its line. The prompt words
themselves are checked by the engine run of that prompt, so one prompt the prior cannot read fails
alone and the others still run. Standard library only: Blender's queue reads the same format.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..config import PRESETS
from ..errors import EngineError
from ..protocol import MAX_PROMPT_CHARS
from ..registry import PRIORS

OVERRIDES = {"seed": int, "preset": str, "prior": str, "steps": int}
CHOICES = {"preset": PRESETS, "prior": PRIORS}  # the names a string override may take
MINIMUM = {"seed": 0, "steps": 1}
SLUG_CHARS = 40


@dataclass(frozen=True)
class BatchItem:
    """One prompt of the batch with the overrides its line gave (None: the batch's own setting)."""

    index: int  # 0-based position in the file, the key of the ledger
    prompt: str
    seed: int | None = None
    preset: str | None = None
    prior: str | None = None
    steps: int | None = None

    @property
    def folder_name(self) -> str:
        """The run folder's name under DIR: stable across re-runs of the same file."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.prompt.lower()).strip("-")[:SLUG_CHARS].strip("-") or "prompt"
        return f"{self.index:03d}-{slug}"


def read_prompt_list(path: Path) -> list[BatchItem]:
    """The items of a PROMPTS file; an EngineError naming the line for anything malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EngineError(f"the prompt list {path} does not exist", "input") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EngineError(f"cannot read the prompt list {path} ({exc})", "input") from exc
    return parse_prompt_list(text, path.name, f"the prompt list {path}")


def parse_prompt_list(text: str, source: str, described: str) -> list[BatchItem]:
    """The items of PROMPTS text (a file's, or what Blender's queue was pasted); errors name ``source``'s line.

    ``described`` names the whole text in the error for a text without prompts ("the prompt list x.txt").
    """
    items: list[BatchItem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        items.append(_parse_line(line, len(items), f"{source}, line {number}"))
    if not items:
        raise EngineError(f"{described} has no prompts (one a line, or JSON lines)", "input")
    return items


def _parse_line(line: str, index: int, where: str) -> BatchItem:
    if not line.startswith("{"):
        return BatchItem(index, _checked_prompt(line, where))
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EngineError(f"{where}: not valid JSON ({exc.msg})", "input") from exc
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str):
        raise EngineError(f'{where}: a JSON line needs a "prompt" string', "input")
    unknown = sorted(set(data) - {"prompt", *OVERRIDES})
    if unknown:
        raise EngineError(
            f"{where}: unknown keys {', '.join(unknown)}; allowed: prompt, {', '.join(OVERRIDES)}", "input"
        )
    overrides = {}
    for key, kind in OVERRIDES.items():
        if key in data and data[key] is not None:
            value = data[key]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise EngineError(f"{where}: {key} must be a whole number, not {value!r}", "input")
            if kind is str and not isinstance(value, str):
                raise EngineError(f"{where}: {key} must be a string, not {value!r}", "input")
            if key in CHOICES and value not in CHOICES[key]:
                raise EngineError(f"{where}: {key} must be one of {', '.join(CHOICES[key])}, not {value!r}", "input")
            if key in MINIMUM and value < MINIMUM[key]:
                raise EngineError(f"{where}: {key} must be {MINIMUM[key]} or more, not {value}", "input")
            overrides[key] = value
    return BatchItem(index, _checked_prompt(data["prompt"], where), **overrides)


def _checked_prompt(prompt: str, where: str) -> str:
    text = " ".join(prompt.split())
    if not text:
        raise EngineError(f"{where}: the prompt is empty", "input")
    control = next((char for char in text if unicodedata.category(char) == "Cc"), None)
    if control is not None:  # a NUL cannot travel as an argument; none of them belongs in a prompt
        raise EngineError(f"{where}: the prompt holds the control character {control!r}; remove it", "input")
    if len(text) > MAX_PROMPT_CHARS:
        raise EngineError(
            f"{where}: the prompt is {len(text)} characters long; keep it under {MAX_PROMPT_CHARS}", "input"
        )
    return text
