"""``bench/REPORT.md`` from whatever results JSON exists: tables, plots and turntable strips.

The report only shows measured numbers (and means and differences of them); a benchmark without a
results file is listed as not run, and a file it cannot use is named with the reason.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.atomic_write import write_text

from . import plots
from .schema import ResultFileError, read_result

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
REPORT_PATH = ROOT / "bench" / "REPORT.md"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _machine(data: dict[str, Any]) -> str:
    m = data["machine"]
    return f"{m['cores']} cores, {m['cpu']}, Python {m['python']}, torch {m['torch']}"


def _provenance(data: dict[str, Any]) -> list[str]:
    return [f"Command: `{data['command']}` ({data['created']}); machine: {_machine(data)}.", ""]


class Report:
    """Collects the sections of the report, relative links included, then writes it atomically."""

    def __init__(self, results_dir: Path, report_path: Path) -> None:
        self.results_dir = results_dir
        self.report_path = report_path
        self.plots_dir = results_dir / "plots"
        self.lines: list[str] = []

    def link(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.report_path.parent)).as_posix()

    def image(self, path: Path | None, alt: str) -> None:
        if path is not None:
            self.lines += [f"![{alt}]({self.link(path)})", ""]

    def load(self, name: str, kind: str) -> dict[str, Any] | None:
        """Our own results file; a section saying why, when it is missing or unusable."""
        try:
            data = read_result(self.results_dir / name, kind)
        except ResultFileError as exc:
            self.lines += [f"Not usable: {exc}.", ""]
            return None
        if data is None:
            self.lines += [f"Not run: no `{name}` yet.", ""]
        return data

    def load_foreign(self, name: str) -> dict[str, Any] | None:
        """A results file written by another benchmark script (its own format)."""
        path = self.results_dir / name
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            self.lines += [f"Not usable: {path.name} is not readable JSON ({exc}).", ""]
            return None

    def write(self) -> Path:
        self.report_path.parent.mkdir(parents=True, exist_ok=True)
        return write_text(self.report_path, "\n".join(self.lines).rstrip() + "\n")


def ablation_rows(quality: dict[str, Any]) -> list[dict[str, Any]]:
    """Per ablation: its runs paired with the full method's run of the same prompt."""
    baselines = {r["prompt"]: r for r in quality["results"] if r["variant"] == "baseline"}
    rows = []
    for ablation in quality["ablations"]:
        pairs = [
            (baselines[r["prompt"]], r)
            for r in quality["results"]
            if r["variant"] == ablation["name"] and r["prompt"] in baselines
        ]
        scored = [(b, r) for b, r in pairs if b["iou"] is not None and r["iou"] is not None]
        fronted = [(b, r) for b, r in pairs if b["front_ok"] is not None and r["front_ok"] is not None]
        rows.append(
            {
                "name": ablation["name"],
                "description": ablation["description"],
                "prompts": len(pairs),
                "failed": sum(r["error"] is not None for _, r in pairs),
                "baseline_iou": _mean([b["iou"] for b, _ in scored]),
                "iou": _mean([r["iou"] for _, r in scored]),
                "mean_delta_iou": _mean([r["iou"] - b["iou"] for b, r in scored]),
                "fronted": len(fronted),
                "baseline_front_ok": sum(b["front_ok"] for b, _ in fronted),
                "front_ok": sum(r["front_ok"] for _, r in fronted),
                "baseline_janus": sum(b["janus"] for b, _ in fronted),
                "janus": sum(r["janus"] for _, r in fronted),
            }
        )
    return rows


def ablation_matrix(quality: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per ablated prompt, every variant's IoU and front verdict side by side: the means hide which prompt moved."""
    variants = ["baseline", *(a["name"] for a in quality["ablations"])]
    by_run = {(r["prompt"], r["variant"]): r for r in quality["results"]}
    prompts = dict.fromkeys(r["prompt"] for r in quality["results"] if r["variant"] != "baseline")
    rows = [[prompt, *(_variant_cell(by_run.get((prompt, v))) for v in variants)] for prompt in prompts]
    return ["prompt", *variants], rows


def _variant_cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    if result["error"] is not None:
        return "failed"
    verdicts = ", ".join(f["verdict"] for f in result["fronts"])
    return f"{_num(result['iou'])} ({verdicts})" if verdicts else _num(result["iou"])


def _front_text(result: dict[str, Any]) -> str:
    if result["front_ok"] is None:
        return "-"
    verdicts = []
    for f in result["fronts"]:
        verdict = f["verdict"] if f["verdict"] == "ok" else f"**{f['verdict']}**"
        verdicts.append(f"{f['shape']}: {verdict} ({', '.join(f['fronts']) or 'no marker'})")
    return "; ".join(verdicts)


def quality_section(report: Report) -> None:
    report.lines += ["## Quality: procedural prior against ground truth", ""]
    quality = report.load("quality.json", "quality")
    if quality is None:
        report.lines += ["## Ablations", "", "Not run: no quality results.", ""]
        return
    settings = quality["settings"]
    report.lines += _provenance(quality)
    steps = settings["steps"] if settings["steps"] is not None else "the preset's"
    report.lines += [
        f"Preset `{settings['preset']}`, {steps} steps, seed {settings['seed']}, "
        f"overrides {settings['overrides'] or 'none'}. IoU on a {settings['iou_resolution']}^3 grid; "
        "Chamfer is the mean of the two directed mean surface distances (metres); albedo error is the mean |RGB| "
        "(linear) against the nearest true surface color; front: where the fronted object's marker was found "
        "(ok: facing -Y only; turned: one front facing elsewhere; janus: several fronts; all round: every turn "
        "filled, a blob rather than a face). Time is prompt to mesh, as a user waits for it (the prior's image "
        "sets already cached).",
        "",
    ]
    if not quality["complete"]:
        report.lines += ["**Partial**: the suite was interrupted; these are the runs it finished.", ""]
    baseline = [r for r in quality["results"] if r["variant"] == "baseline"]
    rows = []
    for r in baseline:
        if r["error"] is not None:
            rows.append([r["prompt"], r["category"], f"failed: {r['error']}", *["-"] * 6])
            continue
        run = r["run"]
        rows.append(
            [
                r["prompt"],
                r["category"],
                _num(r["iou"]),
                _num(r["chamfer"], 4),
                _num(r["albedo_error"]),
                _front_text(r),
                _num(run["it_per_s"], 2),
                _num(run["wall_s"], 1),
                _num(run["peak_rss_mib"], 0),
            ]
        )
    header = ["prompt", "category", "IoU", "Chamfer (m)", "albedo err", "front", "it/s", "time (s)", "peak MiB"]
    report.lines += [*_table(header, rows), ""]
    by_category: dict[str, list[float]] = {}
    for r in baseline:
        if r["iou"] is not None:
            by_category.setdefault(r["category"], []).append(r["iou"])
    if by_category:
        summary = [[c, str(len(v)), _num(_mean(v))] for c, v in by_category.items()]
        report.lines += ["Mean IoU per category:", "", *_table(["category", "prompts", "mean IoU"], summary), ""]
    report.image(plots.iou_per_prompt(quality, report.plots_dir / "iou_per_prompt.png"), "IoU per prompt")
    report.image(plots.loss_curves(quality, report.plots_dir / "loss_curves.png"), "loss curves")
    strips = [r for r in baseline if r["strip"]]
    if strips:
        report.lines += [
            "### Turntables",
            "",
            "Each strip: the result's turntable above the ground truth's, colored then textureless, "
            "from the same orbit cameras.",
            "",
        ]
        for r in strips:
            report.image(report.results_dir / r["strip"], r["prompt"])
    ablation_section(report, quality)


def ablation_section(report: Report, quality: dict[str, Any]) -> None:
    report.lines += ["## Ablations", ""]
    rows = ablation_rows(quality)
    if not rows:
        report.lines += ["Not run: the quality suite ran without `--ablations`.", ""]
        return
    report.lines += [
        "Each ablation reruns the fronted prompts with one part of the method taken away; the full method's "
        "run of the same prompt is the baseline. Front ok: one front, facing -Y. Janus: fronts facing several "
        "(not all) ways.",
        "",
    ]
    table = [
        [
            r["name"],
            r["description"],
            f"{r['prompts']}" + (f" ({r['failed']} failed)" if r["failed"] else ""),
            _num(r["baseline_iou"]),
            _num(r["iou"]),
            "-" if r["mean_delta_iou"] is None else f"{r['mean_delta_iou']:+.3f}",
            f"{r['baseline_front_ok']} -> {r['front_ok']} of {r['fronted']}",
            f"{r['baseline_janus']} -> {r['janus']} of {r['fronted']}",
        ]
        for r in rows
    ]
    header = ["ablation", "what", "prompts", "IoU full", "IoU ablated", "mean ΔIoU", "front ok", "Janus"]
    report.lines += [*_table(header, table), ""]
    header, matrix = ablation_matrix(quality)
    report.lines += ["Per prompt, IoU (front verdict):", "", *_table(header, matrix), ""]
    if rows and all(r["fronted"] and r["baseline_front_ok"] == 0 for r in rows):
        report.lines += [
            "The full method grew no front on any of these prompts, so a front found by an ablated run is as "
            "likely the marker's color in a blob as a face: check its strip before reading a gain into it.",
            "",
        ]
    report.lines += ["Every ablated run has its strip in `results/strips/` (`<prompt>--<ablation>.png`).", ""]
    report.image(plots.ablation_iou(rows, report.plots_dir / "ablation_iou.png"), "ablation IoU change")


def speed_section(report: Report) -> None:
    report.lines += ["## Speed and memory (CPU)", ""]
    speed = report.load("speed.json", "speed")
    if speed is None:
        return
    report.lines += _provenance(speed)
    report.lines += [
        f"Prompt {speed['prompt']!r}; one run per preset, each in its own process. Prompt-to-mesh is the "
        "process's wall time; peak memory its own maximum resident set. The prior's image sets were built "
        "before the run (cold-cache build time shown apart).",
        "",
    ]
    rows = []
    for r in speed["rows"]:
        run = r["run"]
        steps = f"{run['steps']}" + ("" if run["steps"] == r["preset_steps"] else f" (preset: {r['preset_steps']})")
        rows.append(
            [
                r["preset"],
                steps,
                _num(run["it_per_s"], 2),
                _num(run["wall_s"], 1),
                _num(run["startup_s"], 1),
                _num(run["prior_s"], 1),
                _num(run["optimize_s"], 1),
                _num(run["finish_s"], 1),
                _num(run["peak_rss_mib"], 0),
                _num(r["prior_build_s"], 1),
                "ok" if run["error"] is None else f"failed: {run['error']}",
            ]
        )
    header = ["preset", "steps", "it/s", "prompt-to-mesh (s)", "start-up", "prior", "optimize"]
    header += ["turntable + mesh", "peak MiB", "cold prior build (s)", "status"]
    report.lines += [*_table(header, rows), ""]
    report.image(plots.it_per_s_per_preset(speed, report.plots_dir / "it_per_s_per_preset.png"), "it/s per preset")


def gpu_section(report: Report) -> None:
    report.lines += ["## GPU: learned priors (random weights, throughput only)", ""]
    gpu = report.load_foreign("gpu_priors.json")
    if gpu is None:
        report.lines += [
            "Not run: no GPU was lent to a benchmark run yet (no `gpu_priors.json`). "
            "On a CUDA machine: `python -m bench gpu`.",
            "",
        ]
        return
    try:
        report.lines += [f"{gpu['label']}, on {gpu['device']}, torch {gpu['torch']}. Target: {gpu['target']}.", ""]
        rows = [
            [
                r["prior"],
                r["architecture"],
                r["dtype"],
                str(r["batch"]),
                _num(r["it_per_s"], 2),
                _num(r["ms_per_step"], 1),
                "-" if r["peak_memory_bytes"] is None else f"{r['peak_memory_bytes'] / 1e9:.2f}",
            ]
            for r in gpu["results"]
        ]
    except (KeyError, TypeError) as exc:
        report.lines += [f"Not usable: gpu_priors.json lacks {exc}.", ""]
        return
    header = ["prior", "architecture", "dtype", "batch", "it/s", "ms/step", "peak GB"]
    report.lines += [*_table(header, rows), "", *[f"- {note}" for note in gpu.get("notes", [])], ""]
    report.lines += [
        "The public reference settings (threestudio DreamFusion-SD: 64x64 render, 512 latent) are not measured "
        "apart by `bench/gpu_priors.py`: not run.",
        "",
    ]


def mesh_section(report: Report) -> None:
    report.lines += ["## Mesh extraction and bake (CPU)", ""]
    mesh = report.load_foreign("mesh_bench.json")
    if mesh is None:
        report.lines += ["Not run: no `mesh_bench.json` (`python -m bench mesh`).", ""]
        return
    try:
        report.lines += [
            f"{mesh['resolution']}^3 grid, {mesh['texture_size']}^2 texture, {mesh['cpu_cores']} cores, "
            f"Python {mesh['python']} (from `bench/mesh_bench.py`).",
            "",
        ]
        rows = [
            [
                r["field"],
                r["bake"],
                _num(r["total_s"], 2),
                _num(r["bake_s"], 2),
                str(r["faces"]),
                _num(r["peak_rss_mb"], 0),
                f"{r['limit_s']:.0f} s: {'ok' if r['within_limit'] else 'over'}",
            ]
            for r in mesh["rows"]
        ]
    except (KeyError, TypeError) as exc:
        report.lines += [f"Not usable: mesh_bench.json lacks {exc}.", ""]
        return
    header = ["field", "bake", "remesh total (s)", "bake (s)", "faces", "peak MB", "target"]
    report.lines += [*_table(header, rows), ""]


def import_section(report: Report) -> None:
    report.lines += ["## Import into Blender", ""]
    data = report.load_foreign("import_bench.json")
    if data is None:
        report.lines += ["Not run: no `import_bench.json` (`python -m bench import`).", ""]
        return
    try:
        report.lines += [
            f"{data['triangles']} triangles, {data['repeats']} repeats, Blender {data['blender']} "
            f"(from `bench/import_bench.py`); target: whole import under {data['target_s']} s: "
            f"{'met' if data['meets_target'] else 'missed'}.",
            "",
        ]
        rows = [[name, _num(t["median_s"], 3), _num(t["min_s"], 3)] for name, t in data["timings"].items()]
    except (KeyError, TypeError, AttributeError) as exc:
        report.lines += [f"Not usable: import_bench.json lacks {exc}.", ""]
        return
    report.lines += [*_table(["step", "median (s)", "min (s)"], rows), ""]


def procedural_prior_section(report: Report) -> None:
    report.lines += ["## Procedural prior: costs and 2D SDS", ""]
    data = report.load_foreign("procedural_prior.json")
    if data is None:
        report.lines += ["Not run: no `procedural_prior.json` (`python -m bench prior`).", ""]
        return
    try:
        costs = data["costs"]
        report.lines += [
            f"From `bench/procedural_prior.py` on {data['machine']}, {data['threads']} threads: image sets of "
            f"{costs['views']} views at {costs['resolution']} px; prompt set build (max) "
            f"{costs['prompt_set_build_s']:.2f} s, unconditional set build {costs['unconditional_set_build_s']:.2f} s; "
            "eps query (cond + uncond, 64 px): "
            + ", ".join(f"{name} {ms:.2f} ms" for name, ms in costs["eps_query_ms"].items())
            + ".",
            "",
        ]
        rows = [
            [
                r["selection"] + ("" if r["width_deg"] is None else f" {r['width_deg']:g} deg"),
                f"{r['guidance_scale']:g}",
                _num(r["nearest_prompt_image_mse"], 5),
                _num(r["right_class"], 2),
                _num(r["psnr_vs_true_view"], 2),
            ]
            for r in data["sds_2d"]
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        report.lines += [f"Not usable: procedural_prior.json lacks {exc}.", ""]
        return
    header = ["view selection", "guidance", "nearest prompt-image MSE", "right class", "PSNR vs true view"]
    report.lines += [*_table(header, rows), ""]


def build_report(results_dir: Path = RESULTS_DIR, report_path: Path = REPORT_PATH) -> Path:
    """Regenerate the report (and its plots) from the results in ``results_dir``."""
    report = Report(results_dir, report_path)
    report.lines += [
        "# Benchmark report",
        "",
        f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} by `python -m bench report` from the JSON "
        f"in `{report.link(results_dir)}/`. Every number below was measured by the command named in its section; "
        "sections without results say so.",
        "",
        "Reproduce: `python -m bench all` (everything: quality suite with ablations, speed per preset, mesh, "
        "import, procedural prior, GPU when CUDA is present, then this report), or one part: "
        "`python -m bench quality --ablations`, `python -m bench speed`, `python -m bench mesh`, "
        "`python -m bench import`, `python -m bench prior`, `python -m bench gpu`.",
        "",
    ]
    quality_section(report)
    speed_section(report)
    gpu_section(report)
    mesh_section(report)
    import_section(report)
    procedural_prior_section(report)
    return report.write()
