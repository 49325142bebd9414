"""A stand-in for ``bpy.types.UILayout`` that checks every call against Blender's own RNA description.

Panels cannot draw in the bpy module (there is no window), so the add-on's ``draw`` methods are run
against this layout instead. Each call is checked the way Blender would check it: the function and
its keywords must exist, required arguments must be given, enum values (icons, bar types) must be
ones Blender knows, ``prop``-style calls must name a real property of the data they are given, and an
operator button must name a registered operator whose properties are then set by their real names.
What was drawn is kept as a flat list of ``Call`` records so tests can say what the artist would see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import bpy

_RNA = bpy.types.UILayout.bl_rna
_FUNCTIONS = {f.identifier: f for f in _RNA.functions}
_ATTRIBUTES = {p.identifier for p in _RNA.properties} - {"rna_type"}
_PROPERTY_NAMES = ("property", "propname", "active_propname")  # strings that name a property of the POINTER before them


@dataclass
class Call:
    """One layout function call, with its arguments by name and the layout attributes in force."""

    function: str
    args: dict[str, Any]
    enabled: bool
    alert: bool


@dataclass
class Drawing:
    """Everything drawn into one root layout, in order."""

    calls: list[Call] = field(default_factory=list)

    def of(self, function: str) -> list[Call]:
        return [c for c in self.calls if c.function == function]

    def texts(self) -> list[str]:
        return [c.args.get("text", "") for c in self.calls if c.function in ("label", "progress")]

    def operators(self) -> dict[str, Call]:
        return {c.args["operator"]: c for c in self.of("operator")}

    def props(self) -> list[str]:
        return [c.args["property"] for c in self.calls if c.function in ("prop", "prop_enum")]


class StrictLayout:
    def __init__(self, drawing: Drawing | None = None, parent: StrictLayout | None = None) -> None:
        object.__setattr__(self, "drawing", drawing or Drawing())
        object.__setattr__(self, "_parent", parent)
        object.__setattr__(self, "_attributes", {"enabled": True, "alert": False})

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _ATTRIBUTES:
            raise AttributeError(f"UILayout has no attribute {name!r}")
        self._attributes[name] = value

    def _inherited(self, name: str) -> Any:
        own = self._attributes[name]
        if self._parent is None:
            return own
        parent = self._parent._inherited(name)
        return (own and parent) if name == "enabled" else (own or parent)

    def __getattr__(self, name: str) -> Any:
        if name in self._attributes:
            return self._attributes[name]
        if name not in _FUNCTIONS:
            raise AttributeError(f"UILayout has no function or attribute {name!r}")
        return lambda *args, **kwargs: self._call(name, args, kwargs)

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        parameters = [p for p in _FUNCTIONS[name].parameters if not p.is_output]
        if len(args) > len(parameters):
            raise TypeError(f"UILayout.{name}() takes {len(parameters)} arguments, {len(args)} given")
        bound = dict(zip((p.identifier for p in parameters), args, strict=False))
        for key, value in kwargs.items():
            if key not in {p.identifier for p in parameters}:
                raise TypeError(f"UILayout.{name}() has no keyword {key!r}")
            if key in bound:
                raise TypeError(f"UILayout.{name}() got {key!r} twice")
            bound[key] = value
        data = None
        for parameter in parameters:
            value = bound.get(parameter.identifier)
            if value is None:
                if parameter.is_required:
                    raise TypeError(f"UILayout.{name}() needs {parameter.identifier!r}")
                continue
            if parameter.type == "ENUM" and value not in parameter.enum_items:
                raise TypeError(f"UILayout.{name}(): {parameter.identifier}={value!r} is not a Blender value")
            if parameter.type == "POINTER":
                data = value
            if parameter.identifier in _PROPERTY_NAMES:
                _check_property(name, data, value)
        if name == "prop_enum":
            items = data.bl_rna.properties[bound["property"]].enum_items.keys()
            if bound["value"] not in items:
                raise TypeError(f"prop_enum: {bound['value']!r} is not one of {items}")
        self.drawing.calls.append(Call(name, bound, self._inherited("enabled"), self._inherited("alert")))
        if name in ("row", "column", "box", "split", "column_flow", "grid_flow"):
            return StrictLayout(self.drawing, self)
        if name == "operator":
            properties = OperatorProperties(bound["operator"])
            bound["properties"] = properties.values
            return properties
        return None


def _check_property(function: str, data: Any, name: str) -> None:
    if data is None or name not in data.bl_rna.properties:
        raise TypeError(f"UILayout.{function}(): {type(data).__name__} has no property {name!r}")


class OperatorProperties:
    """What ``layout.operator`` returns: settable only by the operator's real property names."""

    def __init__(self, idname: str) -> None:
        module, _, function = idname.partition(".")
        rna = getattr(getattr(bpy.ops, module), function).get_rna_type()  # KeyError: no such operator
        object.__setattr__(self, "_names", set(rna.properties.keys()) - {"rna_type"})
        object.__setattr__(self, "values", {})

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._names:
            raise AttributeError(f"the operator has no property {name!r}")
        self.values[name] = value
