"""Typed benchmark payloads: each benchmark's results are a dataclass, written with ``to_json`` and read back
with ``from_json``, which checks every field against its type hint.

A results file of another shape (a field renamed, missing or of the wrong type) is named in a sentence with
the file and the field's path (``quality.json: results[3].run.wall_s is missing``) instead of failing later
on a ``KeyError`` deep in a report section.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Self, TypeVar, get_args, get_origin, get_type_hints

from .results_file import Envelope, ResultFileError, ResultsFile, read_results

T = TypeVar("T")
P = TypeVar("P", bound="Payload")


class PayloadError(ResultFileError):
    """A results file whose payload is not the shape its benchmark writes."""

    def __init__(self, path: Path, field: str, problem: str) -> None:
        super().__init__(path, f"does not hold what its benchmark writes: {field} {problem}")
        self.field = field


class Payload:
    """Base of every benchmark's payload dataclass: JSON out, and JSON back in with its shape checked."""

    def to_json(self) -> dict[str, Any]:
        """The payload as the results file holds it (tuples as lists, paths as strings)."""
        return to_json(self)

    @classmethod
    def from_json(cls, data: Any, path: Path) -> Self:
        """The payload ``data`` (a results file's fields, envelope excluded) holds; ``path`` names the file in
        a ``PayloadError`` when a field is missing, unknown or of the wrong type."""
        return convert(cls, data, path, "the payload")


@dataclass(frozen=True)
class Measured(Generic[P]):
    """One results file read back: what produced it (the envelope) and the benchmark's typed payload."""

    envelope: Envelope
    payload: P


def read_payload(path: Path, results_file: ResultsFile, payload: type[P]) -> Measured[P] | None:
    """The results at ``path`` as ``payload``; None when the benchmark has not been run (no file). A file that is
    there but unusable (not JSON, another kind or schema, another shape) raises ``ResultFileError``."""
    results = read_results(path, results_file.kind)
    if results is None:
        return None
    return Measured(results.envelope, payload.from_json(results.payload, path))


def to_json(value: Any) -> Any:
    """Dataclasses as objects, tuples as lists, paths as strings; everything else as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def convert(hint: Any, value: Any, path: Path, where: str) -> Any:
    """``value`` as the type ``hint`` says, or a ``PayloadError`` naming ``where`` (the field's path)."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        arms = [arm for arm in args if arm is not type(None)]
        if len(arms) == 1:
            return convert(arms[0], value, path, where)
        for arm in arms:
            try:
                return convert(arm, value, path, where)
            except PayloadError:
                continue
        raise PayloadError(path, where, f"is {value!r}, not {_type_name(hint)}")
    if dataclasses.is_dataclass(hint):
        return _dataclass(hint, value, path, where)
    if origin is list:
        items = _expect(value, list, path, where)
        return [convert(args[0], item, path, f"{where}[{i}]") for i, item in enumerate(items)]
    if origin is tuple:
        items = _expect(value, list, path, where)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], item, path, f"{where}[{i}]") for i, item in enumerate(items))
        if len(items) != len(args):
            raise PayloadError(path, where, f"has {len(items)} items, not {len(args)}")
        pairs = enumerate(zip(args, items, strict=True))
        return tuple(convert(arg, item, path, f"{where}[{i}]") for i, (arg, item) in pairs)
    if origin is dict:
        items = _expect(value, dict, path, where)
        key_type, value_type = args
        return {
            (int(key) if key_type is int else key): convert(value_type, item, path, f"{where}[{key!r}]")
            for key, item in items.items()
        }
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise PayloadError(path, where, f"is {value!r}, not a number")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise PayloadError(path, where, f"is {value!r}, not a whole number")
    if hint is Path:
        return Path(_expect(value, str, path, where))
    if hint in (str, bool):
        return _expect(value, hint, path, where)
    raise TypeError(f"{where}: a payload cannot hold {hint!r}")  # a payload class of a type JSON cannot carry


def _expect(value: Any, kind: type[T], path: Path, where: str) -> T:
    if not isinstance(value, kind):
        shown = {list: "a list", dict: "an object", str: "text", bool: "true or false"}[kind]
        raise PayloadError(path, where, f"is {value!r}, not {shown}")
    return value


def _dataclass(cls: type[T], value: Any, path: Path, where: str) -> T:
    data = _expect(value, dict, path, where)
    hints = get_type_hints(cls)
    known = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    unknown = sorted(data.keys() - {f.name for f in known})
    if unknown:
        raise PayloadError(path, where, f"has fields this tree does not know: {', '.join(unknown)}")
    values = {}
    for f in known:
        inner = f.name if where == "the payload" else f"{where}.{f.name}"
        if f.name in data:
            values[f.name] = convert(hints[f.name], data[f.name], path, inner)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise PayloadError(path, inner, f"is missing ({_type_name(hints[f.name])})")
    return cls(**values)
