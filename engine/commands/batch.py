"""``batch PROMPTS --out DIR``: every prompt of a list becomes a run folder under DIR, recorded in
DIR/batch.jsonl; the same command again continues (done prompts are skipped, stopped ones resume)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import protocol
from ..batch.executor import Executor
from ..batch.ledger import LEDGER_FILE, LedgerError, PromptRecord, PromptStatus, read_ledger, write_ledger
from ..batch.progress_bar import ProgressBar
from ..batch.prompt_list import BatchItem, read_prompt_list
from ..batch.prompt_run import PromptJob, PromptOutcome
from ..config import DEVICES, PRESETS, RunConfig, check, override
from ..config_schema import ConfigError, parse_set
from ..errors import EngineError
from ..registry import EXECUTORS, PRIORS, choices_help, resolve
from ..run_files import check_folder
from ..run_lock import LOCK_FILE, RunLock
from ..stop_signal import StopSignal

HELP = (
    "Generate every prompt of PROMPTS (one a line, or JSON lines with seed/preset/prior/steps) into run "
    "folders under --out; DIR/batch.jsonl says what became of each. Run it again to continue."
)
EVENT_INTERVAL_S = 0.5  # batch events for a running prompt's progress, at most this often


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompts", type=Path, metavar="PROMPTS", help="text file of prompts, or JSON lines")
    parser.add_argument("--out", type=Path, required=True, help="the batch folder (created, or continued)")
    parser.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="run on Ray: 'local' starts a runtime here, 'auto' or an address joins a cluster",
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="balanced", help="for prompts without one")
    prior_help = f"for prompts without one: {choices_help(PRIORS, RunConfig().guidance.prior)}"
    parser.add_argument("--prior", default=None, help=prior_help)
    parser.add_argument("--steps", type=int, default=None, help="for prompts without their own")
    parser.add_argument("--seed", type=int, default=None, help="for prompts without their own")
    parser.add_argument("--device", default=None, help=" | ".join(DEVICES))
    parser.add_argument("--cache-dir", type=Path, default=None, help="where priors cache their data")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="engine setting for every run")
    parser.add_argument("--retries", type=int, default=1, help="re-runs of a prompt whose engine crashed")
    parser.add_argument("--retry-failed", action="store_true", help="also try again prompts that failed on input")


@dataclass
class _Batch:
    """The ledger in memory, written through on every change, and the events that report it."""

    directory: Path
    records: list[PromptRecord]
    executor_name: str
    bar: ProgressBar
    last_event: float = 0.0

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in PromptStatus}
        for record in self.records:
            counts[record.status.value] += 1
        return counts

    def report(self, record: PromptRecord, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self.last_event < EVENT_INTERVAL_S:
            return
        self.last_event = now
        counts = self.counts()
        protocol.emit(
            protocol.BATCH,
            total=len(self.records),
            **counts,
            index=record.index,
            prompt=record.prompt,
            status=record.status.value,
            step=record.step,
        )
        finished = counts["done"] + counts["failed"]
        self.bar.show(
            finished,
            len(self.records),
            f"{counts['failed']} failed · {record.prompt} ({record.status}, step {record.step})",
        )

    def on_event(self, index: int, event: dict) -> None:
        record = self.records[index]
        if event["event"] == "running":
            record.status = PromptStatus.RUNNING
            write_ledger(self.directory, self.records)
            self.report(record)
        elif event["event"] == protocol.PROGRESS:
            record.status = PromptStatus.RUNNING
            record.step = int(event.get("step", record.step))
            self.report(record, force=False)

    def on_outcome(self, index: int, outcome: PromptOutcome) -> None:
        record = self.records[index]
        record.status = outcome.status
        record.seconds = round(record.seconds + outcome.seconds, 2)
        record.executor = self.executor_name
        record.machine = outcome.machine or record.machine
        record.error, record.kind = outcome.error, outcome.kind
        record.step = outcome.step or record.step
        record.attempts += 1
        if outcome.mesh:
            record.mesh = _relative(Path(outcome.mesh), self.directory)
        write_ledger(self.directory, self.records)
        self.report(record)


def reconcile(items: list[BatchItem], records: list[PromptRecord], directory: Path) -> list[PromptRecord]:
    """The ledger for ``items``: earlier records where the same prompt stands at the same place, new ones else."""
    by_index = {record.index: record for record in records}
    reconciled = []
    for item in items:
        record = by_index.get(item.index)
        if record is not None and record.prompt != item.prompt:
            raise EngineError(
                f"{directory} holds a batch of another prompt list (prompt {item.index + 1} was "
                f"{record.prompt!r}, now {item.prompt!r}); choose a new --out folder",
                "input",
            )
        if record is None:
            record = PromptRecord(index=item.index, prompt=item.prompt, run_dir=item.folder_name)
        if record.status is PromptStatus.RUNNING:  # the batch that ran it was killed
            record.status = PromptStatus.CANCELLED
        reconciled.append(record)
    return reconciled


def job_for(item: BatchItem, directory: Path, args: argparse.Namespace) -> PromptJob:
    return PromptJob(
        index=item.index,
        prompt=item.prompt,
        run_dir=str(directory / item.folder_name),
        preset=item.preset or args.preset,
        prior=item.prior or args.prior,
        steps=item.steps if item.steps is not None else args.steps,
        seed=item.seed if item.seed is not None else args.seed,
        device=args.device,
        cache_dir=str(args.cache_dir) if args.cache_dir else None,
        settings=tuple(args.set),
    )


def check_settings(items: list[BatchItem], args: argparse.Namespace) -> None:
    """The batch's own flags with each prompt's line, checked as ``generate`` checks them (engine/config.py),
    before the folder or the ledger exist: a bad flag fails the command, not every prompt of it."""
    if args.prior is not None and args.prior not in PRIORS:
        raise EngineError(f"--prior {args.prior!r} is not a prior; choose one of: {', '.join(PRIORS)}", "input")
    settings = parse_set(args.set)
    for item in items:
        config = RunConfig(prompt=item.prompt)
        flags = {
            "guidance.prior": item.prior or args.prior,
            "optim.steps": item.steps if item.steps is not None else args.steps,
            "seed": item.seed if item.seed is not None else args.seed,
            "device": args.device,
        }
        try:
            override(config, {**PRESETS[item.preset or args.preset], **_given(flags), **settings})
            check(config)
        except ConfigError as exc:
            raise EngineError(f"prompt {item.index + 1} ({item.prompt!r}) cannot run: {exc}", "input") from exc


def _given(flags: dict[str, object]) -> dict[str, object]:
    return {path: value for path, value in flags.items() if value is not None}


def claim_batch_folder(directory: Path) -> None:
    """Only a missing or empty folder, or one that holds a batch, becomes the batch folder: nothing is written
    among a user's own files."""
    if directory.exists() and not directory.is_dir():
        raise EngineError(f"{directory} is a file, not a folder; choose a new --out folder", "output")
    if directory.is_dir() and not (directory / LEDGER_FILE).exists():
        held = sorted(entry.name for entry in directory.iterdir() if entry.name != LOCK_FILE)
        if held:
            raise EngineError(
                f"{directory} is not empty (it holds {', '.join(held[:3])}{' ...' if len(held) > 3 else ''}) and "
                "holds no batch; choose a new or empty --out folder",
                "output",
            )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise EngineError(f"cannot create {directory} ({reason}); choose another --out folder", "output") from exc
    check_folder(directory)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    signals = StopSignal().install()
    items = read_prompt_list(args.prompts)
    check_settings(items, args)
    directory = args.out.expanduser().resolve()
    claim_batch_folder(directory)
    with RunLock(directory):
        try:
            records = reconcile(items, read_ledger(directory), directory)
        except LedgerError as exc:
            raise EngineError(f"{exc}; fix or remove that line, or choose a new --out folder", "input") from exc
        batch = _Batch(directory, records, "ray" if args.ray else "local", ProgressBar(sys.stderr))
        write_ledger(directory, batch.records)
        stop = _stop_event(signals)
        todo = [
            item
            for item, record in zip(items, batch.records, strict=True)
            if record.retryable or (args.retry_failed and record.status is PromptStatus.FAILED)
        ]
        if todo:  # a batch with nothing left to do starts no executor (no Ray runtime)
            executor: Executor = resolve(EXECUTORS, batch.executor_name, "executor")(
                *((args.ray, directory) if args.ray else ())
            )
            signals.install_handlers()  # ray.init puts its own SIGTERM handler in place of the engine's
            try:
                _run_until_settled(batch, todo, args, executor, stop)
            finally:
                executor.close()
                batch.bar.finish()
    counts = batch.counts()
    summary = {"run_dir": str(directory), "ledger": str(directory / LEDGER_FILE), **counts, "total": len(items)}
    if stop.is_set():
        protocol.emit(protocol.CANCELLED, step=None, checkpoint=None, **summary)
        return 0
    failed = [r for r in batch.records if r.status is PromptStatus.FAILED]
    if failed:
        first = failed[0]
        protocol.emit(
            protocol.ERROR,
            message=f"{len(failed)} of {len(items)} prompts failed; prompt {first.index + 1} ({first.prompt!r}): "
            f"{first.error} (every sentence is in {directory / LEDGER_FILE})",
            kind="batch",
            **summary,
        )
        return 2
    protocol.emit(protocol.DONE, mesh=None, glb=None, elapsed_s=round(time.monotonic() - started, 2), **summary)
    return 0


def _run_until_settled(
    batch: _Batch, todo: list[BatchItem], args: argparse.Namespace, executor: Executor, stop: threading.Event
) -> None:
    """Run ``todo`` (what the ledger says is left); then again what crashed, up to ``--retries`` more times."""
    for _ in range(1 + max(0, args.retries)):
        if not todo or stop.is_set():
            return
        executor.run([job_for(item, batch.directory, args) for item in todo], batch.on_event, batch.on_outcome, stop)
        crashed = [batch.records[i.index] for i in todo]
        todo = [i for i, r in zip(todo, crashed, strict=True) if r.status is PromptStatus.FAILED and r.retryable]


def _stop_event(signal: StopSignal) -> threading.Event:
    """A threading.Event set when the user stops the batch (Ctrl-C, SIGTERM, a ``stop`` line)."""
    event = threading.Event()

    def follow() -> None:
        while not signal.requested:
            time.sleep(0.1)
        event.set()

    threading.Thread(target=follow, daemon=True, name="batch-stop").start()
    return event


def _relative(path: Path, directory: Path) -> str:
    try:
        return str(path.resolve().relative_to(directory))
    except ValueError:
        return str(path)
