"""The quality suite: prompts in the procedural prior's language, and the paper's ablations.

Every shape and every color of the vocabulary appears at least once; the fronted shapes carry
the front-marker (Janus) check. Prompts are checked against the vocabulary before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import EngineError


@dataclass(frozen=True)
class SuiteEntry:
    prompt: str
    category: str  # "shape" | "fronted" | "composition"


@dataclass(frozen=True)
class Ablation:
    """One thing the paper took away, as engine config overrides."""

    name: str
    description: str
    overrides: tuple[tuple[str, Any], ...]


SUITE: tuple[SuiteEntry, ...] = (
    SuiteEntry("a red cube", "shape"),
    SuiteEntry("a blue sphere", "shape"),
    SuiteEntry("a green cylinder", "shape"),
    SuiteEntry("an orange cone", "shape"),
    SuiteEntry("a purple torus", "shape"),
    SuiteEntry("a yellow pyramid", "shape"),
    SuiteEntry("a red mushroom", "shape"),
    SuiteEntry("a white snowman", "fronted"),
    SuiteEntry("a yellow duck", "fronted"),
    SuiteEntry("a pink mug", "fronted"),
    SuiteEntry("a brown chair", "fronted"),
    SuiteEntry("a red cube on top of a blue sphere", "composition"),
    SuiteEntry("a green cone next to a yellow cylinder", "composition"),
    SuiteEntry("a black sphere in front of a white cube", "composition"),
    SuiteEntry("a gray torus under an orange pyramid", "composition"),
    SuiteEntry("a yellow duck on top of a brown cube", "composition"),
)

SMOKE_SUITE: tuple[SuiteEntry, ...] = (SuiteEntry("a yellow duck", "fronted"),)

# The Janus check needs a front, so the ablations run on the fronted single objects.
ABLATION_PROMPTS: tuple[str, ...] = tuple(e.prompt for e in SUITE if e.category == "fronted")

ABLATIONS: tuple[Ablation, ...] = (
    Ablation(
        "no-view-prompts",
        "without view-dependent prompts",
        (("guidance.view_dependent_prompts", False),),
    ),
    Ablation("no-textureless", "without textureless shading", (("shading.textureless_prob", 0.0),)),
    Ablation(
        "no-orientation",
        "without the orientation loss",
        (("regularizers.orientation_weight", 0.0),),
    ),
    Ablation(
        "deferred-shading",
        "one shade per ray at its mean normal, instead of each sample shaded, then composited",
        (("render.shading", "deferred"),),
    ),
    Ablation(
        "no-render-light",
        "the camera prior's data under its own lights only, not also the render's",
        (("guidance.procedural.render_light", False),),
    ),
    Ablation("guidance-1", "guidance scale 1 (no classifier-free guidance)", (("guidance.guidance_scale", 1.0),)),
    Ablation("guidance-30", "guidance scale 30", (("guidance.guidance_scale", 30.0),)),
    Ablation("guidance-100", "guidance scale 100 (the paper's)", (("guidance.guidance_scale", 100.0),)),
)
# The paper's ablation study (Fig. 6 and the Janus discussion): what view-dependent prompts and textureless shading
# buy, on the prior that knows only the text, as the paper's does.
PAPER_ABLATIONS: tuple[str, ...] = ("no-view-prompts", "no-textureless")
TEXT_PRIOR = "procedural-text"
# The photometric bound: the same machinery trained on the exact truth render (engine/guidance/oracle.py).
ORACLE = Ablation(
    "oracle", "the exact truth render as the prior (the photometric bound)", (("guidance.prior", "oracle"),)
)


# Tried on the thin and hollow shapes' oracle (their bound is the machinery's, not the prior's): run with
# ``--set guidance.prior='"oracle"'`` so the baseline is the oracle and each trial changes one thing of it.
THIN_SHAPE_TRIALS: tuple[Ablation, ...] = (
    Ablation("field-96", "a fourth grid level at 96^3", (("field.grid_resolutions", [16, 32, 64, 96]),)),
    Ablation("field-128", "a fourth grid level at 128^3", (("field.grid_resolutions", [16, 32, 64, 128]),)),
    Ablation(
        "sharp-sdf", "a sharper surface: SDF Laplace scale 0.01 m (default 0.02)", (("field.sdf_grid.beta", 0.01),)
    ),
    Ablation(
        "high-views",
        "more views from above: elevation uniform in angle only (default: half uniform on the sphere)",
        (("camera.uniform_sphere_prob", 0.0),),
    ),
    Ablation("steps-2400", "four times the steps: 2400 (the fast preset's 600)", (("optim.steps", 2400),)),
    Ablation("geometry-lr-2x", "twice the geometry learning rate (2e-2)", (("optim.lr", 0.02),)),
    Ablation(
        "shadows",
        "shadows: the diffuse light blocked by the object itself, so a mug's opening looks unlike a lid",
        (("shading.shadows", True),),
    ),
)


def entries_for(prompts: list[str]) -> tuple[SuiteEntry, ...]:
    """``["all"]``, ``["smoke"]`` or literal prompts (a literal one in the suite keeps its category)."""
    if prompts == ["all"]:
        return SUITE
    if prompts == ["smoke"]:
        return SMOKE_SUITE
    known = {e.prompt: e for e in SUITE}
    return tuple(known.get(p, SuiteEntry(p, "custom")) for p in prompts)


def ablations_named(names: list[str] | None) -> tuple[Ablation, ...]:
    """The named ablations (all when ``names`` is None); an unknown name is an error listing the choices."""
    if names is None:
        return ABLATIONS
    table = {a.name: a for a in (*ABLATIONS, ORACLE, *THIN_SHAPE_TRIALS)}
    unknown = [n for n in names if n not in table]
    if unknown:
        raise EngineError(f"unknown ablation {', '.join(unknown)}; choose from: {', '.join(table)}", "input")
    return tuple(table[n] for n in names)


def check_prompts(prompts: list[str] | tuple[str, ...]) -> None:
    """Fail before any run when a prompt has words the procedural prior does not know."""
    from engine.procedural.prompt import parse_prompt

    for prompt in prompts:
        parse_prompt(prompt)
