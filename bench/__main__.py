"""``python -m bench COMMAND``: run benchmarks, write JSON under bench/results/, regenerate bench/REPORT.md.

python -m bench quality [--prompts all|smoke|P ...] [--preset fast] [--ablations] [--seed 0] [--jobs 2]
python -m bench ablations [--seeds 0 1 2] [--names no-view-prompts no-textureless] [--jobs 2]
python -m bench speed [--presets fast balanced quality]
python -m bench report
python -m bench mesh | import | gpu | full-size | prior | batch | reliability [their own arguments]
python -m bench all                 # everything above, then the report (hours on 2 cores)
python -m bench --smoke [--out DIR] # every part once on tiny settings, into a temporary folder
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from engine.config import PRESETS
from engine.config_schema import parse_set
from engine.errors import EngineError

from .external import SCRIPTS, run_script
from .results_file import ABLATIONS, QUALITY, REPORT_PATH, RESULTS_DIR, ResultsFile
from .suite import PAPER_ABLATIONS, TEXT_PRIOR

WORK_DIR = RESULTS_DIR / "runs.tmp"  # engine run folders (meshes, grids, frames); ignored by git


def _add_run_options(parser: argparse.ArgumentParser, seed: bool = True) -> None:
    parser.add_argument("--steps", type=int, default=None, help="optimization steps (default: the preset's)")
    if seed:
        parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="engine config field for every run (JSON)"
    )
    parser.add_argument("--negative-prompt", default=None, help="the procedural prior's unconditional scene")
    parser.add_argument("--cache-dir", type=Path, default=None, help="procedural image-set cache (engine default)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder for the JSON results")
    parser.add_argument("--work", type=Path, default=WORK_DIR, help="folder for the engine's run folders")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="every part once on tiny settings (under a minute)")
    parser.add_argument("--out", type=Path, default=None, help="--smoke: folder to write into (default: temporary)")
    sub = parser.add_subparsers(dest="command")

    quality = sub.add_parser("quality", help="the prompt suite against ground truth (and ablations)")
    quality.add_argument("--prompts", nargs="+", default=["all"], help="all | smoke | literal prompts")
    quality.add_argument("--preset", choices=sorted(PRESETS), default="fast")
    quality.add_argument("--ablations", action="store_true", help="also the paper's ablations")
    quality.add_argument("--ablation-names", nargs="+", default=None, help="a subset of the ablations")
    quality.add_argument("--ablation-prompts", nargs="+", default=None, help="default: the fronted prompts")
    quality.add_argument(
        "--no-baselines", action="store_true", help="only the ablations (a shard whose baselines another one runs)"
    )
    quality.add_argument("--jobs", type=int, default=1, help="engine runs side by side (one torch thread each)")
    quality.add_argument(
        "--append", action="store_true", help="add these runs to the results file there (same settings only)"
    )
    quality.add_argument(
        "--rescore",
        action="store_true",
        help="re-extract and score the runs of the results file there with this tree's mesh export (no training)",
    )
    _add_run_options(quality)

    ablations = sub.add_parser("ablations", help="the paper's ablations over several seeds, into ablations.json")
    ablations.add_argument("--prompts", nargs="+", default=None, help="default: the fronted prompts")
    ablations.add_argument("--names", nargs="+", default=list(PAPER_ABLATIONS), help="which ablations")
    ablations.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ablations.add_argument("--prior", default=TEXT_PRIOR, help="the prior every run uses (the paper's: text only)")
    ablations.add_argument("--preset", choices=sorted(PRESETS), default="fast")
    ablations.add_argument("--jobs", type=int, default=1, help="engine runs side by side (one torch thread each)")
    ablations.add_argument(
        "--rescore", action="store_true", help="re-extract and score the study's runs with this tree's mesh export"
    )
    _add_run_options(ablations, seed=False)

    speed = sub.add_parser("speed", help="it/s, prompt-to-mesh time and peak memory per preset")
    speed.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=["fast", "balanced", "quality"])
    speed.add_argument("--prompt", default=None, help="default: a yellow duck")
    _add_run_options(speed)

    report = sub.add_parser("report", help="regenerate REPORT.md and its plots from the JSON results")
    report.add_argument("--results", type=Path, default=RESULTS_DIR)
    report.add_argument("--report", type=Path, default=REPORT_PATH)

    for name, summary in (
        ("mesh", "bench/mesh_bench.py"),
        ("import", "bench/import_bench.py"),
        ("gpu", "bench/gpu_priors.py"),
        ("full-size", "bench/full_size.py"),
        ("prior", "bench/procedural_prior.py"),
        ("batch", "bench/batch_bench.py"),
        ("reliability", "bench/reliability.py"),
    ):
        sub.add_parser(name, help=f"run {summary} (its own arguments follow)", add_help=False)

    everything = sub.add_parser(
        "all", help="quality with ablations, speed, mesh, import, procedural prior, batch, GPU if present, report"
    )
    everything.add_argument("--preset", choices=sorted(PRESETS), default="fast", help="quality suite preset")
    everything.add_argument("--jobs", type=int, default=1, help="engine runs side by side (one torch thread each)")
    _add_run_options(everything)
    return parser


def _overrides(args: argparse.Namespace) -> tuple[tuple[str, object], ...]:
    return tuple(parse_set(args.set).items())


def run_quality(args: argparse.Namespace) -> int:
    from .quality import QualityBench, QualitySettings
    from .suite import ABLATION_PROMPTS, ablations_named, entries_for

    if getattr(args, "rescore", False):
        return rescore(args, QUALITY)
    settings = QualitySettings(
        preset=args.preset,
        steps=args.steps,
        seed=args.seed,
        overrides=_overrides(args),
        negative_prompt=args.negative_prompt,
        cache_dir=args.cache_dir,
    )
    ablations = ablations_named(getattr(args, "ablation_names", None)) if args.ablations else ()
    ablation_prompts = getattr(args, "ablation_prompts", None) or list(ABLATION_PROMPTS)
    entries = entries_for(getattr(args, "prompts", ["all"]))
    bench = QualityBench(settings, args.results, args.work, append=getattr(args, "append", False))
    baselines = not getattr(args, "no_baselines", False)
    path = bench.run(entries, ablations, ablation_prompts, baselines=baselines, jobs=getattr(args, "jobs", 1))
    print(f"wrote {path}")
    return 0


def rescore(args: argparse.Namespace, results_file: ResultsFile) -> int:
    """Re-extract and score the runs of ``results_file`` there with this tree's mesh export (their own settings)."""
    from .payload import read_payload
    from .quality import QualityBench
    from .quality_results import QualityPayload

    path = args.results / results_file.name
    earlier = read_payload(path, results_file, QualityPayload)
    if earlier is None:
        raise EngineError(f"nothing to rescore: {path} does not exist", "input")
    bench = QualityBench(earlier.payload.settings, args.results, args.work, results_file=results_file, append=True)
    print(f"wrote {bench.rescore(jobs=args.jobs)}")
    return 0


def run_ablations(args: argparse.Namespace) -> int:
    """The paper's ablation study: each ablation and the full method on the same prompts and seeds, one prior."""
    from .quality import QualityBench, QualitySettings
    from .suite import ABLATION_PROMPTS, ablations_named

    if args.rescore:
        return rescore(args, ABLATIONS)
    settings = QualitySettings(
        preset=args.preset,
        steps=args.steps,
        seed=args.seeds[0],
        overrides=(("guidance.prior", args.prior), *_overrides(args)),
        negative_prompt=args.negative_prompt,
        cache_dir=args.cache_dir,
    )
    bench = QualityBench(settings, args.results, args.work, results_file=ABLATIONS)
    prompts = args.prompts or list(ABLATION_PROMPTS)
    path = bench.run((), ablations_named(args.names), prompts, seeds=tuple(args.seeds), jobs=args.jobs)
    print(f"wrote {path}")
    return 0


def run_speed_command(args: argparse.Namespace) -> int:
    from .speed import DEFAULT_PROMPT, run_speed

    path = run_speed(
        args.presets,
        args.results,
        args.work,
        prompt=getattr(args, "prompt", None) or DEFAULT_PROMPT,
        steps=args.steps,
        seed=args.seed,
        overrides=_overrides(args),
        negative_prompt=args.negative_prompt,
        cache_dir=args.cache_dir,
    )
    print(f"wrote {path}")
    return 0


def run_report(results: Path, report: Path) -> int:
    from .report import build_report

    print(f"wrote {build_report(results, report)}")
    return 0


def run_all(args: argparse.Namespace) -> int:
    """Every benchmark in turn; a failing script is reported and the rest still run."""
    from .external import cuda_available, run_script
    from .studies import STUDIES

    args.ablations, args.presets = True, list(PRESETS)
    failed = []
    study_args = {"names": list(PAPER_ABLATIONS), "seeds": [0, 1, 2], "prior": TEXT_PRIOR, "prompts": None}
    study = argparse.Namespace(**{**vars(args), **study_args, "rescore": False})
    camera = next(s for s in STUDIES if s.name == "camera-prior")  # the study where fronts form
    camera_args = {
        "names": list(camera.variants),
        "prior": camera.prior,
        "prompts": list(camera.prompts),
        "results": args.results / camera.name,
        "work": args.work / camera.name,  # run folders of their own, so neither study's rescore meets the other's
    }
    camera_study = argparse.Namespace(**{**vars(study), **camera_args})
    steps = (
        ("quality", lambda: run_quality(args)),
        ("ablations", lambda: run_ablations(study)),
        ("camera-prior ablations", lambda: run_ablations(camera_study)),
        ("speed", lambda: run_speed_command(args)),
    )
    for name, step in steps:
        if step() != 0:
            failed.append(name)
    for name in ("mesh", "import", "prior", "batch", "reliability"):
        if run_script(name, []) != 0:
            failed.append(name)
    if cuda_available():
        if run_script("gpu", []) != 0:
            failed.append("gpu")
    else:
        print("gpu: not run, no CUDA device here")
    run_report(args.results, REPORT_PATH)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def run_smoke_command(out: Path | None) -> int:
    from .smoke import run_smoke

    if out is not None:
        print(f"wrote {run_smoke(out)}")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as scratch:
        report = run_smoke(Path(scratch))
        print(f"smoke passed; its report was {report} (removed with the temporary folder)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in SCRIPTS:
        return run_script(args.command, extra)
    if extra:
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    try:
        if args.smoke:
            return run_smoke_command(args.out)
        if args.command == "quality":
            return run_quality(args)
        if args.command == "ablations":
            return run_ablations(args)
        if args.command == "speed":
            return run_speed_command(args)
        if args.command == "report":
            return run_report(args.results, args.report)
        if args.command == "all":
            return run_all(args)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
