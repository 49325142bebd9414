"""Text in a layout: Blender's labels do not wrap, so long sentences are split to the region's width.

Shared by the preferences and the sidebar panels, below both.
"""

from __future__ import annotations

import textwrap

import bpy

CHARS_PER_PIXEL = 1 / 7.0  # rough width of one UI character, for wrapping messages


def draw_wrapped(layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: str = "NONE") -> None:
    """``text`` as labels that fit the region; the icon on the first line, the others indented to match."""
    width = max(20, int((context.region.width if context.region else 300) * CHARS_PER_PIXEL))
    column = layout.column(align=True)
    for number, line in enumerate(textwrap.wrap(text, width) or [""]):
        column.label(text=line, icon=icon if number == 0 else "BLANK1" if icon != "NONE" else "NONE")
