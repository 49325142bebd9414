"""The words the procedural prior understands: shapes, colors (linear albedo) and relations."""

from __future__ import annotations

from .shapes import SHAPES

# Linear-light albedo, kept below 0.9 so shading never saturates.
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.8, 0.05, 0.04),
    "orange": (0.9, 0.3, 0.02),
    "yellow": (0.85, 0.7, 0.05),
    "green": (0.08, 0.55, 0.1),
    "blue": (0.05, 0.15, 0.75),
    "purple": (0.4, 0.08, 0.6),
    "pink": (0.9, 0.35, 0.55),
    "brown": (0.3, 0.15, 0.05),
    "white": (0.85, 0.85, 0.85),
    "gray": (0.35, 0.35, 0.35),
    "black": (0.03, 0.03, 0.03),
}

# "A <relation> B": where A goes relative to B, as seen by the front camera (on -Y, looking at +Y).
RELATIONS: dict[str, tuple[int, int]] = {
    "on top of": (2, +1),  # A above B (Z)
    "under": (2, -1),
    "next to": (0, -1),  # A on the viewer's left of B (-X)
    "in front of": (1, -1),  # A nearer the front camera (-Y)
    "behind": (1, +1),
}

ARTICLES = ("a", "an", "the")


def known_words() -> list[str]:
    """Every single word a prompt may contain."""
    words = set(ARTICLES) | set(COLORS) | set(SHAPES)
    for relation in RELATIONS:
        words.update(relation.split())
    return sorted(words)


def as_json() -> dict[str, object]:
    """The vocabulary for ``prior-vocabulary``."""
    return {
        "shapes": list(SHAPES),
        "colors": list(COLORS),
        "relations": list(RELATIONS),
        "fronted_shapes": [name for name, shape in SHAPES.items() if shape.fronted],
        "default_colors": {name: shape.default_color for name, shape in SHAPES.items()},
    }
