"""Reading a prompt of the procedural prior's language into a scene description.

Grammar: ``[article] [color] shape [relation [article] [color] shape]``, plural-free English,
e.g. "a red cube on top of a blue sphere". Unknown words fail naming the closest known words.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..errors import PriorError
from .shapes import SHAPES
from .vocabulary import ARTICLES, COLORS, RELATIONS, known_words


@dataclass(frozen=True)
class ObjectSpec:
    shape: str
    color: str


@dataclass(frozen=True)
class SceneSpec:
    """One object, or two with the relation of the first to the second."""

    objects: tuple[ObjectSpec, ...]
    relation: str | None = None

    @property
    def text(self) -> str:
        """The canonical prompt (explicit colors), the same for every spelling of the scene."""
        phrases = [f"{_article(o.color)} {o.color} {o.shape}" for o in self.objects]
        return f" {self.relation} ".join(phrases)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def check_prompts(prompt: str, negative_prompt: str) -> None:
    """Both prompts of a run must be readable (the negative one only when given); PriorError names the word."""
    parse_prompt(prompt)
    if negative_prompt.strip():
        parse_prompt(negative_prompt)


def parse_prompt(prompt: str) -> SceneSpec:
    """The scene a prompt describes; raises PriorError(kind="prompt") for words or order it cannot read."""
    words = re.findall(r"[a-z]+", prompt.lower())
    vocabulary = known_words()
    unknown = [w for w in dict.fromkeys(words) if w not in vocabulary]
    if unknown:
        hints = []
        for word in unknown:
            close = difflib.get_close_matches(word, vocabulary, n=3, cutoff=0.6)
            hints.append(f"{word!r} (closest: {', '.join(close)})" if close else f"{word!r}")
        raise PriorError(
            f"the procedural prior does not know {'; '.join(hints)}; "
            f"it knows the shapes {', '.join(SHAPES)}, the colors {', '.join(COLORS)} "
            f"and the relations {', '.join(RELATIONS)}",
            kind="prompt",
        )
    first, position = _object(words, 0, prompt)
    if position == len(words):
        return SceneSpec((first,))
    relation = next((r for r in RELATIONS if words[position : position + len(r.split())] == r.split()), None)
    if relation is None:
        raise _grammar_error(prompt)
    second, position = _object(words, position + len(relation.split()), prompt)
    if position != len(words):
        raise _grammar_error(prompt)
    return SceneSpec((first, second), relation)


def _object(words: list[str], position: int, prompt: str) -> tuple[ObjectSpec, int]:
    """``[article] [color] shape`` starting at ``position``; returns it and the next position."""
    if position < len(words) and words[position] in ARTICLES:
        position += 1
    color = None
    if position < len(words) and words[position] in COLORS:
        color = words[position]
        position += 1
    if position >= len(words) or words[position] not in SHAPES:
        raise _grammar_error(prompt)
    shape = words[position]
    return ObjectSpec(shape, color or SHAPES[shape].default_color), position + 1


def _grammar_error(prompt: str) -> PriorError:
    return PriorError(
        f"the procedural prior cannot read {prompt!r}: write '[a] [color] shape', optionally followed by "
        f"a relation ({', '.join(RELATIONS)}) and a second '[a] [color] shape', "
        "e.g. 'a red cube on top of a blue sphere'",
        kind="prompt",
    )
