"""Errors a user can act on. The CLI turns them into ``error`` events; anything else is a bug."""

from __future__ import annotations


class EngineError(Exception):
    """A failure with a message for a person and a machine-readable ``kind``.

    Kinds in use: "input" (bad argument or prompt), "prior" (model missing or unusable),
    "checkpoint", "mesh", "output" (cannot write), "device", "diverged" (steps kept failing), "internal".
    """

    def __init__(self, message: str, kind: str = "input") -> None:
        super().__init__(message)
        self.kind = kind


class PriorError(EngineError):
    """A prior that cannot be built or used (missing weights, unknown words); the message is for the user."""

    def __init__(self, message: str, kind: str = "prior") -> None:
        super().__init__(message, kind)
