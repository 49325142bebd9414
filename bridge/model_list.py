"""The model list as the add-on shows it: one status line per model of the engine's ``models`` or ``doctor``
result (no bpy)."""

from __future__ import annotations

from ..engine.payloads import ModelEntry

MISSING_SHOWN = 2  # the first few missing parts; the rest are counted


def format_bytes(count: float | None) -> str:
    """ "1.2 GB", "340.0 MB", "12.0 KB"; "?" when unknown."""
    if count is None:
        return "?"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} B"


def model_status(entry: ModelEntry) -> str:
    """One line: ready with its size, what an incomplete model lacks and how to fix it, or how to get it."""
    if entry.kind == "procedural":
        return "Built in: no download, runs on any CPU"
    if not entry.present:
        return "Not on this machine; Download fetches it. " + (entry.licence or "")
    if entry.complete:
        variant = f" ({entry.variant} weights)" if entry.variant else ""
        return f"Ready · {format_bytes(entry.size_bytes)}{variant}"
    shown = "; ".join(entry.missing[:MISSING_SHOWN])
    more = f" and {len(entry.missing) - MISSING_SHOWN} more" if len(entry.missing) > MISSING_SHOWN else ""
    fix = "Download completes it" if entry.downloadable else "copy the missing files or download the model again"
    return f"Incomplete ({shown}{more}); {fix}."
