"""Text in a layout: Blender's labels do not wrap (they cut with "..."), so sentences are split into labels that
fit, measured with Blender's own font metrics (``blf``) at the UI scale.

Shared by the preferences and the sidebar panels, below both.
"""

from __future__ import annotations

from collections.abc import Callable

import blf
import bpy

UI_FONT = 0  # blf's default font: the one Blender draws the interface with (unless the user picked another)
# Blender's sidebar width at UI scale 1 (UI_SIDEBAR_PANEL_WIDTH plus its tab strip), for a context without a region.
DEFAULT_SIDEBAR_WIDTH = 240
# What a label in a box in a sidebar panel leaves of the region's width, at UI scale 1 (Blender's interface code:
# the tab strip 20, the panel's margins 2 x 8, the box's 2 x 5 and its frame, the label's text margins 2 x 8, the
# icon or the indent that matches it 20, the scroll bar's room 6).
RESERVED_WIDTH = 20 + 16 + 12 + 16 + 20 + 6


def ui_scale(context: bpy.types.Context) -> float:
    """The interface scale (resolution and the user's scale); 1 where Blender has no window (background mode)."""
    return context.preferences.system.ui_scale or 1.0


def text_measure(context: bpy.types.Context) -> Callable[[str], float]:
    """The width in pixels of a label's text, in the font and size Blender draws labels with."""
    points = context.preferences.ui_styles[0].widget.points
    blf.size(UI_FONT, points * ui_scale(context))
    return lambda text: blf.dimensions(UI_FONT, text)[0]


def label_width(context: bpy.types.Context, region_width: float | None = None) -> float:
    """The pixels a label's text may take in a region ``region_width`` wide (default: the context's region)."""
    scale = ui_scale(context)
    if region_width is None:
        region_width = context.region.width if context.region is not None else DEFAULT_SIDEBAR_WIDTH * scale
    return max(region_width - RESERVED_WIDTH * scale, 40 * scale)


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """``text`` in lines no wider than ``width`` by ``measure``: whole words where they fit, a word wider than a
    line (a path) split between characters; its own line breaks kept."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if measure(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = word
            while measure(line) > width:
                cut = max(1, _longest_prefix(line, width, measure))
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


def _longest_prefix(text: str, width: float, measure: Callable[[str], float]) -> int:
    """How many characters of ``text`` fit in ``width`` (binary search: width grows with length)."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def draw_wrapped(layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: str = "NONE") -> None:
    """``text`` as labels that fit the region; the icon on the first line, the others indented to match."""
    column = layout.column(align=True)
    for number, line in enumerate(wrap(text, label_width(context), text_measure(context)) or [""]):
        column.label(text=line, icon=icon if number == 0 else "BLANK1" if icon != "NONE" else "NONE")
