"""A stand-in accelerator for machines without one: tensors on it hold real CPU data but report another device,
and an op that mixes them with ordinary CPU tensors fails the way it fails on a GPU.

A GPU run fails at the first op that meets a tensor left on the CPU ("expected all tensors to be on the same
device"). torch's ``meta`` device reports that too, but it has no data, so it cannot run the engine (boolean
masks, ``.item()``, ``nonzero``), and libraries use it themselves (diffusers builds its models there before
loading weights). While ``StandInDevice`` is entered, a tensor created on or moved to its device becomes a
``StandInTensor``: a wrapper subclass whose data is a real CPU tensor and whose reported device is ``lazy`` (no
library here uses it, and autograd runs a lazy tensor's backward on the calling thread, where the modes are).
A ``TorchDispatchMode`` sees every aten op, forward and backward, and runs it on the data; one that meets both a
stand-in tensor and a plain CPU tensor raises ``LeakedTensorError``, except where a GPU allows it:

- explicit transfers (``.to``, ``.cpu()``, ``copy_``, ``.item()``, ``.tolist()``);
- the CPU tensors torch itself makes of Python numbers (``torch.where(mask, x, 0.0)``);
- CPU indices into a stand-in tensor (``x[cpu_mask]``; the reverse fails on CUDA, and here).

CPU tensors of zero dimensions count as leaks although CUDA takes them: MPS has read wrong values from them and
crashed on them (pytorch/pytorch#187117, #186580). A CPU ``torch.Generator`` asked to draw on the stand-in device
fails as CUDA's check does, and ``.numpy()`` of a stand-in tensor fails, so a leak into numpy is caught as well.
A stand-in run computes with the CPU's own kernels, so its numbers can be compared with a CPU run's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten

DEVICE = torch.device("lazy")  # what a stand-in tensor reports
CPU = torch.device("cpu")
# Constructors from Python data build their tensor on the device below every mode, so under the stand-in they
# build it on the CPU and move it (a move the dispatch mode sees).
DATA_CONSTRUCTORS = {torch.tensor, torch.as_tensor, torch.asarray}
# Ops that move data between devices on purpose: their arguments may be on different devices.
TRANSFERS = {
    aten._to_copy.default,
    aten.copy_.default,
    aten._copy_from.default,
    aten._copy_from_and_resize.default,
    aten._local_scalar_dense.default,
    aten.lift_fresh.default,
    aten.lift_fresh_copy.default,
}
# Ops whose index tensors may stay on the CPU while the indexed tensor is on the GPU.
INDEXING = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default, aten._index_put_impl_.default}
WRAPPED_SCALAR = "_stand_in_wrapped_scalar"  # marks the CPU tensors torch makes of Python numbers


class LeakedTensorError(RuntimeError):
    """A CPU tensor met a tensor on the stand-in device: on a GPU this op would fail."""


class StandInTensor(torch.Tensor):
    """A tensor "on the accelerator": real CPU data in ``elem``, reported on ``DEVICE``."""

    elem: torch.Tensor

    @staticmethod
    def __new__(cls, elem: torch.Tensor) -> StandInTensor:
        wrapper = torch.Tensor._make_wrapper_subclass(
            cls,
            elem.size(),
            strides=elem.stride(),
            storage_offset=elem.storage_offset(),
            dtype=elem.dtype,
            layout=elem.layout,
            device=DEVICE,
        )
        wrapper.elem = elem
        return wrapper

    def tolist(self) -> Any:  # type: ignore[override]
        """As on a GPU: the values, copied to the CPU (torch has no ``tolist`` for tensor subclasses)."""
        return self.elem.tolist()

    def __repr__(self, *, tensor_contents: Any = None) -> str:  # type: ignore[override]
        return f"StandInTensor({self.elem!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        # Reached only outside the modes (a stand-in tensor kept past its ``with``): the op runs as inside.
        return _run(func, args, kwargs or {})


class StandInDevice:
    """``with StandInDevice() as device:`` tensors on ``device`` act as if on a GPU, on the CPU's data."""

    def __init__(self) -> None:
        self._modes = ExitStack()

    def __enter__(self) -> torch.device:
        self._modes.enter_context(_DataConstructors())
        self._modes.enter_context(_Dispatch())
        return DEVICE

    def __exit__(self, *exc: object) -> None:
        self._modes.close()


class _DataConstructors(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if func in DATA_CONSTRUCTORS and _is_stand_in(kwargs.get("device")):
            return func(*args, **{**kwargs, "device": CPU}).to(DEVICE)
        return func(*args, **kwargs)


class _Dispatch(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        return _run(func, args, kwargs or {})


def _is_stand_in(device: object) -> bool:
    return device is not None and torch.device(device) == DEVICE  # type: ignore[arg-type]


def _tensors(values: Any) -> Iterator[torch.Tensor]:
    """The tensors among an aten op's arguments (tensor lists are one level deep)."""
    for value in values:
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, list | tuple):
            yield from (item for item in value if isinstance(item, torch.Tensor))


def _unwrap(value: Any) -> Any:
    if isinstance(value, StandInTensor):
        return value.elem
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(item) for item in value)
    return value


def _wrap(value: Any) -> Any:
    if type(value) is torch.Tensor:
        return StandInTensor(value)
    if isinstance(value, list | tuple):
        return type(value)(_wrap(item) for item in value)
    return value


def _run(func: Any, args: tuple, kwargs: dict) -> Any:
    """``func`` on the CPU data of its stand-in tensors, its results on the stand-in device where a GPU's would
    be on the GPU; LeakedTensorError where a GPU would fail."""
    target = kwargs.get("device")
    to_stand_in = _is_stand_in(target)
    tensors = list(_tensors((*args, *kwargs.values())))
    on_stand_in = any(isinstance(t, StandInTensor) for t in tensors)
    if not (to_stand_in or on_stand_in):
        result = func(*args, **kwargs)
        if func is aten.scalar_tensor.default and target is None:
            setattr(result, WRAPPED_SCALAR, True)  # a Python number torch wrapped (``torch.where(mask, x, 0.0)``)
        return result
    _check(func, args, kwargs, tensors)
    if to_stand_in:
        kwargs = {**kwargs, "device": CPU}
    result = func(*_unwrap(args), **{key: _unwrap(value) for key, value in kwargs.items()})
    if func._schema.is_mutable and args and isinstance(args[0], StandInTensor):
        return args[0]  # in place: the wrapper already holds the changed data
    return _wrap(result) if to_stand_in or target is None else result


def _check(func: Any, args: tuple, kwargs: dict, tensors: list[torch.Tensor]) -> None:
    """Raise LeakedTensorError where this op, which involves the stand-in device, would fail on a GPU."""
    generator = kwargs.get("generator")
    if generator is not None and generator.device.type == "cpu" and _is_stand_in(kwargs.get("device")):
        raise LeakedTensorError(
            f"{func}: expected a generator on the accelerator but found one on the cpu (draw on the CPU, then move)"
        )
    if func in TRANSFERS:
        return
    if func in INDEXING:
        tensors = _indexing_operands(args)
    leaked = [t for t in tensors if not isinstance(t, StandInTensor) and not getattr(t, WRAPPED_SCALAR, False)]
    if leaked:
        described = ", ".join(f"{t.device.type} {tuple(t.shape)} {t.dtype}" for t in tensors)
        raise LeakedTensorError(
            f"{func}: expected all tensors to be on the same device, but found the accelerator and cpu ({described})"
        )


def _indexing_operands(args: tuple) -> list[torch.Tensor]:
    """The tensors of an indexing op that must share the indexed tensor's device: CUDA moves CPU indices to the
    indexed tensor's device, but not the other way round, and not the values put."""
    indexed, indices, *rest = args
    operands = [indexed, *_tensors(rest)]
    if not isinstance(indexed, StandInTensor):
        operands += list(_tensors(indices))
    return operands
