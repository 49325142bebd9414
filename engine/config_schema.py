"""What a config field accepts, declared beside its default, and the one check of a value against it.

A field of ``engine/config.py`` is declared ``name: TYPE = setting(DEFAULT, low=..., high=...)``: the type is
the annotation (bool, int, float, str, ``X | None``, ``tuple[X, X]`` or ``tuple[X, ...]``) and ``setting`` adds
the range or the choices. ``check_value`` is the only place a value is judged: ``--set``, the flags,
``config.json`` on resume and the stages' own configs all come through it, and a refusal is one sentence that
names the field and the values it takes. Standard library only (the add-on imports the config).
"""

from __future__ import annotations

import json
import math
import types
from collections.abc import Collection
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from itertools import pairwise
from typing import Any, Union, get_args, get_origin

from .config_migration import renamed
from .errors import EngineError

ALLOWED_KEY = "allowed"  # the dataclass field metadata key that holds a field's Allowed
_COUNT_WORDS = {2: "two", 3: "three", 4: "four"}


@dataclass(frozen=True)
class Allowed:
    """The values a field takes beyond its type: a numeric range, choices, a length, an order."""

    low: float | None = None  # numbers (and each number of a tuple): at least this
    high: float | None = None  # ... at most this
    below: float | None = None  # ... less than this (an open upper end, instead of ``high``)
    # text (and each text of a tuple): one of these; a live view (``PRIORS.keys()``) where names are registered later
    choices: Collection[str] = ()
    length: tuple[int, int] | None = None  # tuple[X, ...]: how many items; str: how many characters
    ordered: bool = False  # a pair (low, high): the first no larger than the second


def setting(default: Any, **allowed: Any) -> Any:
    """A config field with its default and the values it takes (``Allowed``'s fields as keywords)."""
    return dataclass_field(default=default, metadata={ALLOWED_KEY: Allowed(**allowed)})


class ConfigError(EngineError):
    """Settings that cannot work: every problem, each a sentence naming the field and what it takes."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), "input")
        self.problems = problems


def shown(value: Any) -> str:
    """A value as the user wrote it (JSON where it is JSON)."""
    try:
        return json.dumps(list(value) if isinstance(value, tuple) else value)
    except (TypeError, ValueError):
        return repr(value)


def _number_text(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _split_optional(hint: Any) -> tuple[bool, Any]:
    """(None allowed, the type without None)."""
    if get_origin(hint) in (Union, types.UnionType):
        members = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"unsupported config type {hint}")
        return len(members) < len(get_args(hint)), members[0]
    return False, hint


def _range_text(allowed: Allowed) -> str:
    low = None if allowed.low is None else _number_text(allowed.low)
    if allowed.below is not None:
        return f" from {low} up to (not including) {_number_text(allowed.below)}"
    high = None if allowed.high is None else _number_text(allowed.high)
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    return f" of at most {high}" if high is not None else ""


def _scalar_text(kind: Any, allowed: Allowed, plural: bool = False) -> str:
    if kind is bool:
        return "true or false"
    if kind in (int, float):
        noun = {int: "whole number", float: "number"}[kind] + ("s" if plural else "")
        return ("" if plural else "a ") + noun + _range_text(allowed)
    if kind is str:
        if allowed.choices:
            return ("" if plural else "one ") + "of " + ", ".join(allowed.choices)
        if allowed.length is not None:
            return f"text of {allowed.length[0]} to {allowed.length[1]} characters"
        return "text"
    raise TypeError(f"unsupported config type {kind}")


def describe(hint: Any, allowed: Allowed) -> str:
    """What a field of type ``hint`` takes, in words: "a whole number from 8 to 512"."""
    nullable, kind = _split_optional(hint)
    if get_origin(kind) is tuple:
        items = get_args(kind)
        if len(items) == 2 and items[1] is Ellipsis:
            count = "" if allowed.length is None else f"{allowed.length[0]} to {allowed.length[1]} "
            if items[0] is str and allowed.choices:
                text = f"a list of {count}items, each one of " + ", ".join(allowed.choices)
            else:
                text = f"a list of {count}" + _scalar_text(items[0], allowed, plural=True)
        else:
            text = f"{_COUNT_WORDS.get(len(items), len(items))} " + _scalar_text(items[0], allowed, plural=True)
            if allowed.ordered:
                text += ", the first no larger than the second"
    else:
        text = _scalar_text(kind, allowed)
    return text + (", or null" if nullable else "")


def _scalar(value: Any, kind: Any, allowed: Allowed) -> tuple[bool, Any]:
    """(acceptable, the value as stored: an int given for a float becomes a float)."""
    if kind is bool:
        return isinstance(value, bool), value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False, value
        if kind is int and not isinstance(value, int):
            return False, value
        if not math.isfinite(value):
            return False, value
        in_range = (allowed.low is None or value >= allowed.low) and (
            (allowed.high is None or value <= allowed.high) and (allowed.below is None or value < allowed.below)
        )
        return in_range, kind(value)
    if kind is str:
        if not isinstance(value, str):
            return False, value
        if allowed.choices:
            return value in allowed.choices, value
        if allowed.length is not None:
            return allowed.length[0] <= len(value) <= allowed.length[1], value
        return True, value
    raise TypeError(f"unsupported config type {kind}")


def _accept(value: Any, hint: Any, allowed: Allowed) -> tuple[bool, Any]:
    nullable, kind = _split_optional(hint)
    if value is None:
        return nullable, None
    if get_origin(kind) is not tuple:
        return _scalar(value, kind, allowed)
    if not isinstance(value, list | tuple):
        return False, value
    items = get_args(kind)
    variadic = len(items) == 2 and items[1] is Ellipsis
    if variadic:
        low, high = allowed.length or (0, math.inf)
        if not low <= len(value) <= high:
            return False, value
    elif len(value) != len(items):
        return False, value
    checked = [_scalar(item, items[0], allowed) for item in value]
    stored = tuple(item for _, item in checked)
    if not all(ok for ok, _ in checked):
        return False, value
    return not allowed.ordered or all(a <= b for a, b in pairwise(stored)), stored


def check_value(path: str, value: Any, hint: Any, allowed: Allowed) -> Any:
    """``value`` as the field ``path`` stores it; ConfigError naming the field and its values when it is not one."""
    ok, stored = _accept(value, hint, allowed)
    if not ok:
        raise ConfigError([f"{path} must be {describe(hint, allowed)}, not {shown(value)}"])
    return stored


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["render.samples_per_ray=48"]`` -> ``{"render.samples_per_ray": 48}`` (values parsed as JSON); a setting
    that moved into its own section is taken under its old name too (engine/config_migration.py)."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise EngineError(f"--set expects KEY=VALUE, got {item!r}", "input")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides[key.strip()] = tuple(value) if isinstance(value, list) else value
    return renamed(overrides)
