"""Text in a layout: Blender's labels do not wrap (they cut with "..."), so sentences are split into labels that
fit, measured with Blender's own font metrics (``blf``) at the UI scale.

Shared by the preferences and the sidebar panels, below both.
"""

from __future__ import annotations

from collections.abc import Callable

import blf
import bpy

UI_FONT = 0  # blf's default font: the one Blender draws the interface with (unless the user picked another)
# The sidebar's width at UI scale 1 in Blender 4.3's default file (291 px at its scale 1.04), tab strip included;
# the wrapping width where there is no region (the bpy module).
DEFAULT_SIDEBAR_WIDTH = 280
# What a label in a sidebar panel leaves of the region's width, at UI scale 1, measured in Blender 4.3's window: the
# tab strip, the panel's margins and the label's text margins 58, room for a box's padding 12 (kept everywhere, so
# a sentence wraps the same in and out of a box); an icon, or the indent matching it, another 20.
RESERVED_WIDTH = 58 + 12
ICON_WIDTH = 20


def ui_scale(context: bpy.types.Context) -> float:
    """The interface scale (resolution and the user's scale); 1 where Blender has no window (background mode)."""
    return context.preferences.system.ui_scale or 1.0


def text_measure(context: bpy.types.Context) -> Callable[[str], float]:
    """The width in pixels of a label's text, in the font and size Blender draws labels with."""
    points = context.preferences.ui_styles[0].widget.points
    blf.size(UI_FONT, points * ui_scale(context))
    return lambda text: blf.dimensions(UI_FONT, text)[0]


def label_width(context: bpy.types.Context, region_width: float | None = None, icon: bool = False) -> float:
    """The pixels a label's text may take in a region ``region_width`` wide (default: the context's region),
    after its ``icon`` if it has one."""
    scale = ui_scale(context)
    if region_width is None:
        region_width = context.region.width if context.region is not None else DEFAULT_SIDEBAR_WIDTH * scale
    reserved = RESERVED_WIDTH + (ICON_WIDTH if icon else 0)
    return max(region_width - reserved * scale, 40 * scale)


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
    width = label_width(context, icon=icon != "NONE")
    for number, line in enumerate(wrap(text, width, text_measure(context)) or [""]):
        column.label(text=line, icon=icon if number == 0 else "BLANK1" if icon != "NONE" else "NONE")
