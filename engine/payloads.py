"""The payloads of one-shot commands, as they cross the process boundary in a ``result`` event.

``python -m engine doctor`` and ``python -m engine models`` build these dataclasses and emit
``result_fields(payload)``; the add-on turns the event back into them once, with ``parse_result``
(or ``parse_doctor`` for a stored report), so a payload of the wrong shape is one clear
``PayloadError`` instead of a KeyError somewhere in a panel. Keys a newer engine adds are ignored,
so an older add-on still reads its payloads; a field with a default may be absent.
Standard library only: the add-on imports this module inside Blender.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

DOCTOR = "doctor"
MODELS = "models"


class PayloadError(ValueError):
    """A result event that does not have the shape of its command's payload; the message names the field."""


@dataclass
class ModelEntry:
    """One row of the model list: the procedural prior, a local model, or a known downloadable one."""

    id: str  # hub id ("org/name"), folder path for a model in a user folder, or "procedural"
    name: str  # what a person reads: hub id or folder name
    kind: str  # the prior it runs under: a name of engine/registry.py PRIORS
    source: str  # "builtin" | "hf-cache" | "folder" | "hub" (not on this machine)
    path: str | None = None  # the folder holding model_index.json
    present: bool = True
    complete: bool = True
    size_bytes: int = 0
    missing: list[str] = field(default_factory=list)  # what keeps it from loading, short phrases
    variant: str | None = None  # weights variant to load ("fp16") when only that one is complete
    licence: str | None = None
    gated: bool = False  # downloading needs the licence accepted on the hub and an access token
    downloadable: bool = False  # a known hub model: "Download" can fetch or complete it


@dataclass
class ModelList:
    """The ``models`` payload: every model found, one sentence per folder that could not be read."""

    models: list[ModelEntry]
    problems: list[str]
    cache_dir: str  # the Hugging Face hub cache that was searched


@dataclass
class GpuMemory:
    """One CUDA device and its memory."""

    name: str
    total_bytes: int
    free_bytes: int


@dataclass
class CudaReport:
    available: bool
    version: str | None  # the CUDA version torch was built with
    devices: list[GpuMemory]


@dataclass
class MemoryReport:
    """System memory; None where the platform does not say."""

    total_bytes: int | None
    available_bytes: int | None


@dataclass
class MemoryNeed:
    """A learned prior's weights on the device checked (``engine/memory_needs.py``); activations come on top."""

    prior: str
    model: str  # the default checkpoint the counts are of
    dtype: str  # the precision it would run in there: "float16" | "float32"
    weights_bytes: int  # every network on the device at once
    low_memory_weights_bytes: int  # the most on the device at once with guidance.low_memory
    free_bytes: int | None  # the device's free memory (CUDA), None where torch does not say

    @property
    def fits(self) -> bool | None:
        """Whether the weights fit in the free memory (in low-memory mode, if only there); None: unknown."""
        return None if self.free_bytes is None else self.low_memory_weights_bytes <= self.free_bytes


@dataclass
class DoctorReport:
    """The ``doctor`` payload: can this Python run the engine, on which device, with how much memory, which models.

    ``ready`` is true only when ``problems`` is empty. ``device`` is None when the requested device is not usable;
    ``cuda`` and ``mps`` are None when torch is missing or broken.
    """

    ready: bool
    problems: list[str]
    python: str
    python_executable: str
    platform: str
    engine: str
    torch: str | None
    packages: dict[str, str | None]  # distribution -> version, None: not installed
    memory: MemoryReport
    device_requested: str
    device: str | None
    device_auto: str | None
    models: list[ModelEntry]
    model_problems: list[str]
    cache_dir: str
    cuda: CudaReport | None = None
    mps: bool | None = None
    memory_needs: list[MemoryNeed] = field(default_factory=list)  # absent from engines before it was added

    @property
    def model_list(self) -> ModelList:
        """The model list the report carries (the doctor lists models as ``models`` does)."""
        return ModelList(models=self.models, problems=self.model_problems, cache_dir=self.cache_dir)


_COMMANDS: dict[str, type[DoctorReport] | type[ModelList]] = {DOCTOR: DoctorReport, MODELS: ModelList}


def result_fields(payload: DoctorReport | ModelList) -> dict[str, Any]:
    """The fields of the ``result`` event that carries ``payload``: its command's name, then the payload."""
    command = next(name for name, cls in _COMMANDS.items() if isinstance(payload, cls))
    return {"command": command, **asdict(payload)}


def parse_result(event: object) -> DoctorReport | ModelList:
    """The payload of a ``result`` event of ``doctor`` or ``models``; raises PayloadError for anything else."""
    command = event.get("command") if isinstance(event, dict) else None
    cls = _COMMANDS.get(command) if isinstance(command, str) else None
    if cls is None:
        raise PayloadError(f"a result of no known command ({command!r})")
    return _parse(cls, event, command)


def parse_doctor(payload: object) -> DoctorReport:
    """A doctor report from its event, or from the JSON the preferences keep of it."""
    return _parse(DoctorReport, payload, DOCTOR)


def parse_models(payload: object) -> ModelList:
    return _parse(ModelList, payload, MODELS)


_T = TypeVar("_T")


def _parse(cls: type[_T], payload: object, command: str) -> _T:
    try:
        return _build(cls, payload, "")
    except PayloadError as exc:
        raise PayloadError(f"the {command} result is malformed: {exc}") from None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type[_T], data: object, where: str) -> _T:
    if not isinstance(data, dict):
        raise PayloadError(f"{where or 'the payload'} is {_shown(data)}, not an object")
    values = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        path = f"{where}.{spec.name}" if where else spec.name
        if spec.name in data:
            values[spec.name] = _value(_hints(cls)[spec.name], data[spec.name], path)
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise PayloadError(f"{path} is missing")
    return cls(**values)


_SCALARS = {str: "a string", bool: "true or false", int: "an integer"}


def _value(hint: Any, value: object, where: str) -> Any:
    """``value`` checked against the type ``hint``: str, bool, int, ``X | None``, lists, string-keyed dicts,
    dataclasses (the types the payloads use)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (option,) = (arg for arg in args if arg is not type(None))
        return _value(option, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise PayloadError(f"{where} is {_shown(value)}, not a list")
        return [_value(args[0], item, f"{where}[{index}]") for index, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise PayloadError(f"{where} is {_shown(value)}, not an object")
        return {key: _value(args[1], item, f"{where}.{key}") for key, item in value.items()}
    if is_dataclass(hint):
        return _build(hint, value, where)
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):  # JSON true is not a number
        return value
    raise PayloadError(f"{where} is {_shown(value)}, not {_SCALARS[hint]}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
