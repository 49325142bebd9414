"""``python -m engine COMMAND``: one module per command under ``engine/commands``.

Each command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Expected failures (EngineError) become one ``error`` event and exit code 2; anything else
becomes an ``error`` event of kind "internal" with the traceback in ``engine-error.log``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import traceback
from pathlib import Path

from . import protocol
from .errors import EngineError

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


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The parser for ``command`` alone: only that command's module is imported (start-up stays fast)."""
    parser = _Parser(prog="python -m engine", description="DreamFusion engine")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (module_name, summary) in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=summary)
            continue
        module = importlib.import_module(module_name)
        parsed = sub.add_parser(name, help=summary, description=module.HELP)
        module.add_arguments(parsed)
        parsed.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        command = next((arg for arg in argv if not arg.startswith("-")), None)
        args = build_parser(command).parse_args(argv)
        return int(args.run(args))
    except EngineError as exc:
        protocol.emit(protocol.ERROR, message=str(exc), kind=exc.kind)
        return 2
    except KeyboardInterrupt:
        protocol.emit(protocol.ERROR, message="interrupted", kind="cancelled")
        return 130
    except Exception as exc:  # a bug: report it in one line, keep the traceback in a file
        log = Path(tempfile.gettempdir()) / "dreamfusion-engine-error.log"
        log.write_text(traceback.format_exc())
        protocol.emit(
            protocol.ERROR,
            message=f"internal error: {type(exc).__name__}: {exc} (details in {log})",
            kind="internal",
            log=str(log),
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
