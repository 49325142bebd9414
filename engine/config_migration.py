"""Settings that moved into their prior's or field's own section, so what was written before the move still works:
a run folder's config.json (resumed, or read by ``bench``) and ``--set`` with the old flat name.

A move is one line of ``MOVED``: the old dotted path and the new one. A default that changed keeps its old value in a
config.json written before the change, which lacks the setting (``DEFAULTS_BEFORE``). Standard library only.
"""

from __future__ import annotations

from typing import Any

MOVED: dict[str, str] = {
    "guidance.perp_neg": "guidance.perp_neg.enabled",  # a bool before Perp-Neg had its own section
    "guidance.perp_neg_weight": "guidance.perp_neg.weight",
    "guidance.perp_neg_front_decay": "guidance.perp_neg.front_decay",
    "guidance.perp_neg_side_decay": "guidance.perp_neg.side_decay",
    "guidance.procedural_lights": "guidance.procedural.lights",
    "guidance.procedural_render_light": "guidance.procedural.render_light",
    "guidance.procedural_views": "guidance.procedural_text.views",
    "guidance.procedural_view_selection": "guidance.procedural_text.view_selection",
    "guidance.procedural_view_width_deg": "guidance.procedural_text.view_width_deg",
    "field.sdf_beta": "field.sdf_grid.beta",
    "field.sdf_init_radius": "field.sdf_grid.init_radius",
    "field.mlp_hidden": "field.mlp.hidden",
    "field.mlp_blocks": "field.mlp.blocks",
    "field.mlp_octaves": "field.mlp.octaves",
}

# Settings whose default changed, with the value a config.json written before the setting existed meant: the hash
# grid had only a density output until the signed distance became its default.
DEFAULTS_BEFORE: dict[str, Any] = {"field.hash_grid.output": "density"}


def renamed(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"guidance.procedural_lights": 4}`` -> ``{"guidance.procedural.lights": 4}``; other paths as they are."""
    return {MOVED.get(path, path): value for path, value in dotted.items()}


def migrated(data: Any) -> Any:
    """A nested settings object (config.json) with every moved setting at its new place; a copy, the input is kept.

    Anything that is not an object of objects is returned as it is, for the config reader to refuse by name.
    """
    if not isinstance(data, dict):
        return data
    result = _copy(data)
    for old, new in MOVED.items():
        *parents, leaf = old.split(".")
        section = _section(result, parents)
        if section is None or leaf not in section or isinstance(section[leaf], dict):
            continue  # not there, or already the new section of the same name (guidance.perp_neg)
        value = section.pop(leaf)
        *new_parents, new_leaf = new.split(".")
        target = result
        for part in new_parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                break
        else:
            target.setdefault(new_leaf, value)
    for path, value in DEFAULTS_BEFORE.items():
        *parents, leaf = path.split(".")
        section = _section(result, parents)
        if section is not None:  # a config.json with the section but not the setting
            section.setdefault(leaf, value)
    return result


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _copy(value) if isinstance(value, dict) else value for key, value in data.items()}


def _section(data: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
    for part in path:
        data = data.get(part)  # type: ignore[assignment]
        if not isinstance(data, dict):
            return None
    return data
