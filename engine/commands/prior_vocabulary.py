"""``python -m engine prior-vocabulary``: the procedural prior's words, as one ``result`` event.

The payload carries ``shapes``, ``colors`` and ``relations`` (plus which shapes have a front and
each shape's default color), so the add-on can offer them without importing the engine.
"""

from __future__ import annotations

import argparse

from .. import protocol
from ..procedural.vocabulary import as_json

HELP = "Print the procedural prior's vocabulary (shapes, colors, relations) as JSON."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    protocol.emit(protocol.RESULT, **as_json())
    return 0
