"""The offline priors' shared refusal: prompts outside the procedural vocabulary (engine/procedural/vocabulary.py)."""

from __future__ import annotations

from ..config import RunConfig
from ..procedural.prompt import check_prompts
from .base import DiffusionPrior


class VocabularyPrior(DiffusionPrior):
    """A prior that renders the prompt's scene, so it knows only the words the scene builder knows."""

    @classmethod
    def check_run_config(cls, run: RunConfig) -> None:
        """The prompt and the negative prompt must be in the vocabulary (PriorError naming the word)."""
        check_prompts(run.prompt, run.guidance.negative_prompt)
