"""The quality benchmark's results: its payload (the settings, each run's record and scores) and its report sections,
the suite against ground truth and its targets, the ablations beside it, ablation studies over seeds, and a study's
runs against their own oracle.

bench/quality.py runs the suite and writes this payload; the report reads it here without the runner. The bars come
from bench/targets.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plots
from .engine_run import EngineRequest, RunRecord
from .payload import Measured, Payload
from .report_page import Page, mean, num, overrides_text, provenance, table
from .suite import Ablation
from .targets import target

BASELINE = "baseline"


@dataclass(frozen=True)
class QualitySettings:
    """How every run of the suite is made and measured."""

    preset: str = "fast"
    steps: int | None = None  # None: the preset's
    seed: int = 0
    overrides: tuple[tuple[str, Any], ...] = ()
    negative_prompt: str | None = None
    cache_dir: Path | None = None
    truth_resolution: int = 128  # marching cubes of the ground-truth SDF
    iou_resolution: int = 96
    surface_samples: int = 20_000

    def request(self, prompt: str, extra: tuple[tuple[str, Any], ...] = (), seed: int | None = None) -> EngineRequest:
        return EngineRequest(
            prompt=prompt,
            preset=self.preset,
            steps=self.steps,
            seed=self.seed if seed is None else seed,
            overrides=self.overrides + extra,
            negative_prompt=self.negative_prompt,
            cache_dir=self.cache_dir,
        )


@dataclass
class FrontResult:
    shape: str
    fronts: list[str]  # directions the result's front marker was found facing
    untested: list[str]
    ok: bool  # exactly one front, facing -Y
    verdict: str  # "ok" | "turned" (one front, elsewhere) | "none" | "janus" | "all round" (every tested turn filled)
    marker_albedo_error: float | None


@dataclass
class FScore:
    """The F-score at distance ``tau`` (Tatarchenko et al. 2019)."""

    tau: float
    precision: float
    recall: float
    fscore: float


@dataclass
class Surface:
    """A result's surface accuracy (engine/metrics.py SurfaceAccuracy) as the results file holds it."""

    within_deg: dict[str, float]  # share of the area within each angle ("2", "5", "10" degrees) of the truth
    median_angle_deg: float
    fscores: list[FScore]


@dataclass
class QualityResult:
    prompt: str
    category: str
    variant: str  # "baseline" or an ablation's name
    run: RunRecord
    seed: int = 0
    iou: float | None = None
    chamfer: float | None = None
    normal_consistency: float | None = None
    surface: Surface | None = None  # None: scored before surface accuracy was measured
    albedo_error: float | None = None
    undecimated_faces: int | None = None  # the same surface before decimation to the face budget
    undecimated_chamfer: float | None = None
    fronts: list[FrontResult] = field(default_factory=list)
    front_ok: bool | None = None  # every fronted object has one front, facing -Y; None: nothing fronted
    janus: bool | None = None  # some fronted object shows its front in several (not all) directions
    metrics_s: float | None = None
    strip: str | None = None  # PNG path relative to the results folder
    error: str | None = None


@dataclass
class QualityPayload(Payload):
    """A quality results file: the suite, an ablation study or a study of the study table (bench/studies.py)."""

    complete: bool  # False: interrupted, these are the runs it finished
    settings: QualitySettings
    seeds: list[int]
    ablations: list[Ablation]
    results: list[QualityResult]
    rescored: bool  # every mesh re-extracted from its stored grid after the runs (``--rescore``)

    def variant(self, name: str) -> list[QualityResult]:
        return [r for r in self.results if r.variant == name]


ORACLE = "oracle"
COLOR_VARIANTS = ("a white cube", "a gray cube", "a black cube")  # one shape on the default background


def _surface_cells(surface: Surface | None) -> list[str]:
    """Within 5 degrees (%), the median angle and the F-scores at 0.5% and 1% of a result's surface; "-" for a
    result measured before surface accuracy was."""
    if surface is None:
        return ["-"] * 4
    scores = [num(f.fscore, 2) for f in surface.fscores]
    return [f"{surface.within_deg['5']:.0%}", f"{surface.median_angle_deg:.1f}", *scores]


def ablation_rows(quality: QualityPayload) -> list[dict[str, Any]]:
    """Per ablation: its runs paired with the full method's run of the same prompt."""
    baselines = {r.prompt: r for r in quality.variant(BASELINE)}
    rows = []
    for ablation in quality.ablations:
        pairs = [(baselines[r.prompt], r) for r in quality.variant(ablation.name) if r.prompt in baselines]
        scored = [(b, r) for b, r in pairs if b.iou is not None and r.iou is not None]
        fronted = [(b, r) for b, r in pairs if b.front_ok is not None and r.front_ok is not None]
        rows.append(
            {
                "name": ablation.name,
                "description": ablation.description,
                "prompts": len(pairs),
                "failed": sum(r.error is not None for _, r in pairs),
                "baseline_iou": mean([b.iou for b, _ in scored]),
                "iou": mean([r.iou for _, r in scored]),
                "mean_delta_iou": mean([r.iou - b.iou for b, r in scored]),
                "fronted": len(fronted),
                "baseline_front_ok": sum(bool(b.front_ok) for b, _ in fronted),
                "front_ok": sum(bool(r.front_ok) for _, r in fronted),
                "baseline_janus": sum(bool(b.janus) for b, _ in fronted),
                "janus": sum(bool(r.janus) for _, r in fronted),
            }
        )
    return rows


def ablation_matrix(quality: QualityPayload) -> tuple[list[str], list[list[str]]]:
    """Per ablated prompt, every variant's IoU and front verdict side by side: the means hide which prompt moved."""
    variants = [BASELINE, *(a.name for a in quality.ablations)]
    by_run = {(r.prompt, r.variant): r for r in quality.results}
    prompts = dict.fromkeys(r.prompt for r in quality.results if r.variant != BASELINE)
    rows = [[prompt, *(_variant_cell(by_run.get((prompt, v))) for v in variants)] for prompt in prompts]
    return ["prompt", *variants], rows


def _variant_cell(result: QualityResult | None) -> str:
    if result is None:
        return "-"
    if result.error is not None:
        return "failed"
    verdicts = ", ".join(f.verdict for f in result.fronts)
    return f"{num(result.iou)} ({verdicts})" if verdicts else num(result.iou)


def _front_text(result: QualityResult) -> str:
    if result.front_ok is None:
        return "-"
    verdicts = []
    for f in result.fronts:
        verdict = f.verdict if f.verdict == "ok" else f"**{f.verdict}**"
        verdicts.append(f"{f.shape}: {verdict} ({', '.join(f.fronts) or 'no marker'})")
    return "; ".join(verdicts)


def quality_targets(baseline: list[QualityResult], oracle: dict[str, float | None]) -> list[list[str]]:
    """Rows of target, measured, verdict for the suite's bars (bench/targets.py) that these runs can judge."""
    scored = [r for r in baseline if r.iou is not None]
    rows = []
    for category in ("shape", "composition", "fronted"):
        bar = target(f"iou-{category}")
        values = [r.iou for r in scored if r.category == category]
        if values:
            measured = sum(values) / len(values)
            shown = f"{bar.metric} ({len(values)}) >= {bar.threshold:g}"
            rows.append([shown, f"{measured:.3f}", bar.verdict(measured)])
    consistency = [r.normal_consistency for r in scored if r.normal_consistency is not None]
    if consistency:
        bar = target("normal-consistency")
        measured = sum(consistency) / len(consistency)
        rows.append([bar.text(), f"{measured:.3f}", bar.verdict(measured)])
    fronted = [r for r in scored if r.fronts]
    if fronted:
        ok = sum(1 for r in fronted if r.front_ok)
        verdict = "met" if ok == len(fronted) else "**missed**"
        rows.append(["prompts with a fronted object: one front, at -Y", f"{ok} of {len(fronted)}", verdict])
    faces = [r.run.faces for r in scored if r.run.faces is not None]
    if faces:
        bar = target("faces")
        rows.append([bar.text(f"{bar.threshold:.0f}"), str(max(faces)), bar.verdict(max(faces))])
    growth = [r.chamfer / r.undecimated_chamfer - 1.0 for r in scored if r.chamfer and r.undecimated_chamfer]
    if growth:
        bar, worst = target("decimation-chamfer"), max(growth)
        verdict = "met" if worst <= bar.threshold else "**missed**"
        rows.append([f"decimated Chamfer at most {bar.threshold:.0%} above undecimated", f"{worst:+.1%}", verdict])
    variants = [r.iou for r in scored if r.prompt in COLOR_VARIANTS]
    if len(variants) == len(COLOR_VARIANTS):
        bar, spread = target("color-spread"), max(variants) - min(variants)
        rows.append(
            [f"white, gray and black cube within {bar.threshold:g} IoU", f"spread {spread:.3f}", bar.verdict(spread)]
        )
    gaps = {r.prompt: oracle[r.prompt] - r.iou for r in scored if oracle.get(r.prompt) is not None}
    if gaps:
        bar = target("oracle-gap")
        worst_prompt = max(gaps, key=lambda prompt: gaps[prompt])
        rows.append(
            [
                f"IoU within {bar.threshold:g} of the oracle ({len(gaps)} with an oracle run)",
                f"largest gap {gaps[worst_prompt]:.3f} ({worst_prompt})",
                bar.verdict(gaps[worst_prompt]),
            ]
        )
    return rows


SUITE_COLUMNS = (
    "IoU on a {iou_resolution}^3 grid; Chamfer is the mean of the two directed mean surface distances (metres), for "
    "the exported (decimated) mesh and for the same surface before decimation; normal consistency is the mean "
    "|n . n_true| at nearest surface points, both ways; within 5 deg is the share of the result's area whose face "
    "normal is within 5 degrees of the true normal at the nearest true point, with the area-weighted median angle; F "
    "is the F-score (Tatarchenko et al. 2019) at 0.5% and 1% of the truth's largest side; oracle IoU is the same "
    'machinery trained on the exact truth render (the photometric bound, prior "oracle"); albedo error is the mean '
    "|RGB| (linear) against the nearest true surface color; front: where the fronted object's marker was found (ok: "
    "facing -Y only; turned: one front facing elsewhere; janus: several fronts; all round: every turn filled, a blob "
    "rather than a face). Time is prompt to mesh, as a user waits for it (the prior's image sets already cached)."
)


def _steps_text(quality: QualityPayload) -> str | int:
    return quality.settings.steps if quality.settings.steps is not None else "the preset's"


def quality_section(page: Page, measured: Measured[QualityPayload]) -> None:
    quality, settings = measured.payload, measured.payload.settings
    page.add(provenance(measured.envelope))
    page.add(
        f"Preset `{settings.preset}`, {_steps_text(quality)} steps, seed {settings.seed}, "
        f"overrides {overrides_text(settings.overrides)}. "
        + SUITE_COLUMNS.format(iou_resolution=settings.iou_resolution)
    )
    if not quality.complete:
        page.add("**Partial**: the suite was interrupted; these are the runs it finished.")
    if quality.rescored:
        page.add(
            "**Rescored**: after the runs, every mesh was extracted again from its run's stored density grid by "
            "`--rescore` (the mesh export of the tree this report describes) and scored again; the optimization, "
            "its it/s and its time are the runs' own."
        )
    baseline = quality.variant(BASELINE)
    oracle = {r.prompt: r.iou for r in quality.variant(ORACLE)}
    oracle_surface = {r.prompt: r.surface for r in quality.variant(ORACLE)}
    rows = []
    for r in baseline:
        if r.error is not None:
            rows.append([r.prompt, r.category, f"failed: {r.error}", *["-"] * 14])
            continue
        rows.append(
            [
                r.prompt,
                r.category,
                num(r.iou),
                num(oracle.get(r.prompt)),
                num(r.chamfer, 4),
                num(r.undecimated_chamfer, 4),
                num(r.normal_consistency),
                *_surface_cells(r.surface),
                _surface_cells(oracle_surface.get(r.prompt))[0],
                num(r.run.faces, 0),
                num(r.albedo_error),
                _front_text(r),
                num(r.run.it_per_s, 2),
                num(r.run.wall_s, 1),
                num(r.run.peak_rss_mib, 0),
            ]
        )
    header = ["prompt", "category", "IoU", "oracle IoU", "Chamfer (m)", "undecimated", "normal cons."]
    header += ["within 5 deg", "median angle", "F 0.5%", "F 1%", "oracle within 5 deg", "faces"]
    header += ["albedo err", "front", "it/s", "time (s)", "peak MiB"]
    page.add(*table(header, rows))
    by_category: dict[str, list[float]] = {}
    for r in baseline:
        if r.iou is not None:
            by_category.setdefault(r.category, []).append(r.iou)
    if by_category:
        summary = [[c, str(len(v)), num(mean(v))] for c, v in by_category.items()]
        page.add("Mean IoU per category:")
        page.add(*table(["category", "prompts", "mean IoU"], summary))
    targets = quality_targets(baseline, oracle)
    if targets:
        page.add("Targets, judged on these runs:")
        page.add(*table(["target", "measured", "verdict"], targets))
        if any("missed" in verdict for *_, verdict in targets):
            page.add(
                "What was tried against a miss is measured in the sections below: the variants at the suite's own "
                "settings, and the trials on the thin and hollow shapes' oracle."
            )
    scored = [(r.prompt, r.category, r.iou) for r in baseline if r.iou is not None]
    page.image(plots.iou_per_prompt(scored, page.plots_dir / "iou_per_prompt.png"), "IoU per prompt")
    curves = {r.prompt: r.run.losses for r in baseline}
    page.image(plots.loss_curves(curves, page.plots_dir / "loss_curves.png"), "loss curves")
    strips = [r for r in baseline if r.strip]
    if strips:
        page.add("### Turntables")
        page.add(
            "Each strip: the result's turntable above the ground truth's, colored then textureless, "
            "from the same orbit cameras."
        )
        for r in strips:
            page.image(page.results_dir / str(r.strip), r.prompt)


def ablation_section(
    page: Page, measured: Measured[QualityPayload], strips: str = "results/strips", plot: str = "ablation_iou.png"
) -> None:
    quality = measured.payload
    rows = ablation_rows(quality)
    if not rows:
        page.add("Not run: the quality suite ran without `--ablations`.")
        return
    page.add(
        "Each variant reruns prompts with one part of the method taken away or changed; the run of the same "
        "prompt at the file's own settings is the baseline. Front ok: one front, facing -Y. Janus: fronts facing "
        "several (not all) ways."
    )
    cells = [
        [
            r["name"],
            r["description"],
            f"{r['prompts']}" + (f" ({r['failed']} failed)" if r["failed"] else ""),
            num(r["baseline_iou"]),
            num(r["iou"]),
            "-" if r["mean_delta_iou"] is None else f"{r['mean_delta_iou']:+.3f}",
            f"{r['baseline_front_ok']} -> {r['front_ok']} of {r['fronted']}",
            f"{r['baseline_janus']} -> {r['janus']} of {r['fronted']}",
        ]
        for r in rows
    ]
    header = ["ablation", "what", "prompts", "IoU full", "IoU ablated", "mean ΔIoU", "front ok", "Janus"]
    page.add(*table(header, cells))
    header, matrix = ablation_matrix(quality)
    page.add("Per prompt, IoU (front verdict):")
    page.add(*table(header, matrix))
    if all(r["fronted"] and r["baseline_front_ok"] == 0 for r in rows):
        page.add(
            "The full method grew no front on any of these prompts, so a front found by an ablated run is as "
            "likely the marker's color in a blob as a face: check its strip before reading a gain into it."
        )
    page.add(f"Every ablated run has its strip in `{strips}/` (`<prompt>--<ablation>.png`).")
    page.image(plots.ablation_iou(rows, page.plots_dir / plot), "ablation IoU change")


def _spread(values: list[float], signed: bool = False) -> str:
    """Mean and [min, max] over seeds: with three seeds the range says more than a standard deviation."""
    if not values:
        return "-"
    shown = "+.3f" if signed else ".3f"
    average = format(sum(values) / len(values), shown)
    return f"{average} [{min(values):{shown}}, {max(values):{shown}}]" if len(values) > 1 else average


def seed_study_rows(study: QualityPayload) -> list[dict[str, Any]]:
    """Per variant (the full method first): its IoU per seed (mean over prompts), its IoU change against the full
    method's run of the same prompt and seed, and how many of its runs kept one front at -Y or grew a Janus."""
    runs = [r for r in study.results if r.error is None and r.iou is not None]
    full = {(r.prompt, r.seed): r for r in runs if r.variant == BASELINE}
    descriptions = {BASELINE: "the full method", **{a.name: a.description for a in study.ablations}}
    rows = []
    for variant, description in descriptions.items():
        mine = [r for r in runs if r.variant == variant]
        per_seed = {
            seed: [r.iou for r in mine if r.seed == seed] for seed in study.seeds if any(r.seed == seed for r in mine)
        }
        deltas = {
            seed: [r.iou - full[(r.prompt, seed)].iou for r in mine if r.seed == seed and (r.prompt, seed) in full]
            for seed in per_seed
        }
        fronted = [r for r in mine if r.front_ok is not None]
        rows.append(
            {
                "variant": variant,
                "description": description,
                "runs": len(mine),
                "failed": sum(1 for r in study.results if r.variant == variant and r.error is not None),
                "iou_per_seed": {seed: sum(v) / len(v) for seed, v in per_seed.items()},
                "delta_per_seed": {seed: sum(v) / len(v) for seed, v in deltas.items() if v},
                "fronted": len(fronted),
                "front_ok": sum(1 for r in fronted if r.front_ok),
                "janus": sum(1 for r in fronted if r.janus),
            }
        )
    return rows


def seed_study_matrix(study: QualityPayload) -> tuple[list[str], list[list[str]]]:
    """Per prompt, each variant's IoU over seeds and its front verdicts: which prompt moved, and how reliably."""
    variants = [BASELINE, *(a.name for a in study.ablations)]
    prompts = dict.fromkeys(r.prompt for r in study.results)
    rows = []
    for prompt in prompts:
        cells = [prompt]
        for variant in variants:
            mine = [r for r in study.results if r.prompt == prompt and r.variant == variant]
            scored = [r for r in mine if r.error is None and r.iou is not None]
            verdicts = [f.verdict for r in scored for f in r.fronts]
            counted = ", ".join(f"{verdict} {verdicts.count(verdict)}" for verdict in dict.fromkeys(verdicts))
            failed = len(mine) - len(scored)
            cells.append(
                _spread([r.iou for r in scored if r.iou is not None])
                + (f" ({counted})" if counted else "")
                + (f", {failed} failed" if failed else "")
            )
        rows.append(cells)
    return ["prompt", *variants], rows


def seed_study_section(
    page: Page, measured: Measured[QualityPayload], strips: str = "results/strips/ablations"
) -> None:
    study, settings = measured.payload, measured.payload.settings
    page.add(provenance(measured.envelope))
    page.add(
        f"Preset `{settings.preset}`, seeds {', '.join(str(s) for s in study.seeds)}, overrides "
        f"{overrides_text(settings.overrides)}. Each ablation reruns the prompts with one part of the method taken "
        "away, at every seed; its IoU change is against the full method's run of the same prompt and seed. Values "
        "are the mean over seeds with [min, max]. Front ok: one front, facing -Y; Janus: fronts facing several (not "
        "all) ways; counts are over all runs."
    )
    rows = seed_study_rows(study)
    cells = [
        [
            r["variant"],
            r["description"],
            f"{r['runs']}" + (f" ({r['failed']} failed)" if r["failed"] else ""),
            _spread(list(r["iou_per_seed"].values())),
            "-" if r["variant"] == BASELINE else _spread(list(r["delta_per_seed"].values()), signed=True),
            f"{r['front_ok']} of {r['fronted']}",
            f"{r['janus']} of {r['fronted']}",
        ]
        for r in rows
    ]
    header = ["variant", "what", "runs", "mean IoU over seeds", "ΔIoU vs full", "front ok", "Janus"]
    page.add(*table(header, cells))
    header, matrix = seed_study_matrix(study)
    page.add("Per prompt, IoU over seeds (front verdicts counted over seeds):")
    page.add(*table(header, matrix))
    if all(r["front_ok"] == 0 and r["janus"] == 0 for r in rows):
        page.add(
            "No run of this study grew one front or a Janus, with the method whole or ablated, so it cannot say "
            "whether view-dependent prompts reduce Janus on this prior: the Janus column is empty on both sides."
        )
    page.add(f"Every run has its strip in `{strips}/` (`<prompt>--<variant>--seed-<seed>.png`).")


def study_seeds_section(page: Page, measured: Measured[QualityPayload], folder: str) -> None:
    """An ablation study over seeds kept in its own folder under bench/results/."""
    seed_study_section(page, measured, strips=f"results/{folder}/strips/ablations")


def study_trials_section(page: Page, measured: Measured[QualityPayload], folder: str) -> None:
    """Trials (ablations of the study's own baseline) kept in their own folder under bench/results/."""
    settings = measured.payload.settings
    page.add(provenance(measured.envelope))
    page.add(
        f"Preset `{settings.preset}`, seed {settings.seed}; the baseline's overrides: "
        f"{overrides_text(settings.overrides)}."
    )
    ablation_section(page, measured, strips=f"results/{folder}/strips", plot=f"{folder}_iou.png")


def study_own_oracle_section(page: Page, measured: Measured[QualityPayload], folder: str) -> None:
    """Each prompt's distance to its own oracle, both trained with the file's overrides: what changes the SDS
    runs (the shading order, the steps) changes the bound too, so they are judged against it."""
    quality, settings = measured.payload, measured.payload.settings
    page.add(provenance(measured.envelope))
    page.add(
        f"Preset `{settings.preset}`, {_steps_text(quality)} steps, seed {settings.seed}; overrides for every run, "
        f"the oracle's too: {overrides_text(settings.overrides)}. The suite's runs, at the defaults, are in the first "
        "section."
    )
    oracle = {r.prompt: r.iou for r in quality.variant(ORACLE)}
    bar = target("oracle-gap")
    rows = []
    for r in quality.variant(BASELINE):
        bound = oracle.get(r.prompt)
        if r.iou is None or bound is None:
            continue
        gap = bound - r.iou
        rows.append([r.prompt, num(r.iou), num(bound), f"{gap:.3f}", bar.verdict(gap), num(r.run.wall_s, 1)])
    header = ["prompt", "IoU", "oracle IoU", "gap", f"within {bar.threshold:g}", "time (s)"]
    page.add(*table(header, rows))


def study_runs_section(page: Page, measured: Measured[QualityPayload], folder: str) -> None:
    """A study's runs at its own settings, prompt by prompt (no variants beside them)."""
    quality, settings = measured.payload, measured.payload.settings
    page.add(provenance(measured.envelope))
    page.add(
        f"Preset `{settings.preset}`, {_steps_text(quality)} steps, seed {settings.seed}; overrides: "
        f"{overrides_text(settings.overrides)}. Strips in `results/{folder}/strips/`."
    )
    rows = [
        [
            r.prompt,
            num(r.iou),
            num(r.chamfer, 4),
            num(r.normal_consistency),
            num(r.run.it_per_s, 2),
            num(r.run.wall_s, 1),
            "ok" if r.error is None else f"failed: {r.error}",
        ]
        for r in quality.variant(BASELINE)
    ]
    page.add(*table(["prompt", "IoU", "Chamfer (m)", "normal cons.", "it/s", "time (s)", "status"], rows))
