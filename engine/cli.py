"""``python -m engine COMMAND``: one module per command under ``engine/commands``.

Each command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``, and may define
``TEXT_OPTIONS`` (options whose value is free text: the next argument is taken whole, even one that starts
with "-"), ``run_folder(args)`` (the run folder it works on) and ``SKIP_TEARDOWN`` (exit without the
interpreter's teardown once its output is flushed; see ``exit_process``).
The modules $DREAMFUSION_ENGINE_PLUGINS names are imported first (``engine/registry.py``), so every command takes
the priors and fields they register.
Expected failures (EngineError) become one ``error`` event and exit code 2; anything else
becomes an ``error`` event of kind "internal" with the traceback in ``engine-error.log``: in the run
folder when the command has one, else in a temporary file of its own, so no engine overwrites another's.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import traceback
from contextlib import suppress
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from . import protocol
from .atomic_write import write_text
from .errors import EngineError
from .registry import load_plugins
from .run_files import SpecialFileError

COMMANDS = {
    "generate": ("engine.commands.generate", "generate a 3D asset from a text prompt"),
    "batch": ("engine.commands.batch", "generate every prompt of a list, here or on a Ray cluster"),
    "remesh": ("engine.commands.remesh", "re-extract a finished run's mesh at another threshold"),
    "prior-vocabulary": ("engine.commands.prior_vocabulary", "the words the procedural prior understands"),
    "prior-mesh": ("engine.commands.prior_mesh", "the procedural prior's ground-truth mesh for a prompt"),
    "doctor": ("engine.commands.doctor", "check this Python, its packages and devices"),
    "models": ("engine.commands.models", "list the diffusion models found locally"),
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as a protocol error instead of printing usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise EngineError(f"{self.prog}: {message}", "input")


ERROR_LOG = "engine-error.log"


def command_module(command: str | None) -> ModuleType | None:
    """The module of ``command`` (imported now), or None for a name that is not a command."""
    return importlib.import_module(COMMANDS[command][0]) if command in COMMANDS else None


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The parser for ``command`` alone: only that command's module is imported (start-up stays fast)."""
    parser = _Parser(prog="python -m engine", description="DreamFusion engine")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    module = command_module(command)
    for name, (_, summary) in COMMANDS.items():
        if name != command or module is None:
            sub.add_parser(name, help=summary)
            continue
        parsed = sub.add_parser(name, help=summary, description=module.HELP)
        module.add_arguments(parsed)
        parsed.set_defaults(run=module.run)
    return parser


def join_text_options(argv: list[str], options: tuple[str, ...]) -> list[str]:
    """``["--prompt", "-a cube"]`` -> ``["--prompt=-a cube"]``: argparse would read "-a cube" as an option."""
    joined: list[str] = []
    items = iter(argv)
    for item in items:
        value = next(items, None) if item in options else None
        joined.append(item if value is None else f"{item}={value}")
    return joined


def write_error_log(details: str, run_folder: Path | None) -> Path | None:
    """The traceback in the run folder's ``engine-error.log``, else in a new temporary file; None if neither works."""
    if run_folder is not None and run_folder.is_dir():
        with suppress(OSError, EngineError):  # replaced, never written through: the name may be a link
            return write_text(run_folder / ERROR_LOG, details)
    with suppress(OSError):
        handle, name = tempfile.mkstemp(prefix="dreamfusion-engine-error-", suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as log:
            log.write(details)
        return Path(name)
    return None


def command_name(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def exit_process(code: int, argv: list[str] | None = None) -> NoReturn:
    """End the process with ``code``. A command marked ``SKIP_TEARDOWN`` skips the interpreter's teardown
    (torch's alone took 1.5 s on a loaded 2-core machine, and a stopped run promises to exit within 2 s): it
    has closed its files and written its checkpoint, and starts no service that needs an atexit handler."""
    argv = sys.argv[1:] if argv is None else argv
    if getattr(command_module(command_name(argv)), "SKIP_TEARDOWN", False):
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    code = _run_command(sys.argv[1:] if argv is None else argv)
    reason = protocol.lost_output()
    if reason is not None:  # the events went nowhere: one sentence where a person may still see it
        with suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(f"engine: its output could not be written ({reason}); give it a writable stdout\n")
            sys.stderr.flush()
        return code or 2
    return code


def _run_command(argv: list[str]) -> int:
    run_folder: Path | None = None
    try:
        load_plugins()  # before the flags: their help and choices name what the plugins register
        command = command_name(argv)
        module = command_module(command)
        args = build_parser(command).parse_args(join_text_options(argv, getattr(module, "TEXT_OPTIONS", ())))
        if hasattr(module, "run_folder"):
            run_folder = module.run_folder(args)
        return int(args.run(args))
    except EngineError as exc:
        protocol.emit(protocol.ERROR, message=str(exc), kind=exc.kind)
        return 2
    except SpecialFileError as exc:  # a link or a FIFO where a run's file belongs
        protocol.emit(protocol.ERROR, message=str(exc), kind="input")
        return 2
    except KeyboardInterrupt:
        protocol.emit(protocol.ERROR, message="interrupted", kind="cancelled")
        return 130
    except Exception as exc:  # a bug: report it in one line, keep the traceback in a file
        log = write_error_log(traceback.format_exc(), run_folder)
        where = f" (details in {log})" if log is not None else ""
        protocol.emit(
            protocol.ERROR,
            message=f"internal error: {type(exc).__name__}: {exc}{where}",
            kind="internal",
            log=str(log) if log is not None else None,
        )
        return 3


if __name__ == "__main__":
    exit_process(main())
