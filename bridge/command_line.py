"""The engine's command lines, built as argument lists (never a shell string), and which Python runs them.

``python -m engine`` must run with the extension's own folder as the working directory, which is
where ``engine/`` ships; ``ENGINE_CWD`` is that folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..engine.protocol import MAX_PROMPT_CHARS
from .engine_venv import ADDON_ROOT, default_env_dir, default_python_path, env_state

ENGINE_CWD = ADDON_ROOT


class RequestError(ValueError):
    """A setting the user has to change before a run can start; the message says which."""


@dataclass(frozen=True)
class GenerateRequest:
    """One Generate click, with the add-on's "use the default" values (0, "") not yet resolved."""

    prompt: str
    out: Path
    prior: str = "procedural"
    negative_prompt: str = ""
    model: str = ""  # folder or hub id; "": the prior's default
    preset: str = "balanced"  # fast | balanced | quality
    steps: int = 0  # 0: the preset's
    seed: int = 0
    guidance_scale: float = 0.0  # 0: the prior's default
    device: str = "auto"
    preview_every: int = 0  # 0: the engine's default
    perp_neg: bool = False  # Perp-Neg against the view prompts (learned priors)
    low_memory: bool = False  # learned priors in less GPU memory, the same guidance

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompt", checked_prompt(self.prompt))


def checked_prompt(prompt: str) -> str:
    """The prompt with its whitespace collapsed; a RequestError when it is empty or too long for the engine."""
    prompt = " ".join(prompt.split())
    if not prompt:
        raise RequestError("Type a prompt first, for example 'a red cube'.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise RequestError(f"The prompt is {len(prompt)} characters long; keep it under {MAX_PROMPT_CHARS}.")
    return prompt


def engine_command(python: Path, command: str, *args: str) -> list[str]:
    """``python -m engine COMMAND ARGS`` as an argument list (run with ``ENGINE_CWD`` as the working directory)."""
    return [str(python), "-m", "engine", command, *args]


def generate_command(python: Path, request: GenerateRequest) -> list[str]:
    """``python -m engine generate ...`` for ``request``; optional flags only when they are set.

    Free text travels as ``--prompt=TEXT``, one argument, so a prompt that starts with "-" is still a prompt.
    """
    command = engine_command(
        python, "generate",
        f"--prompt={request.prompt}",
        "--prior", request.prior,
        "--preset", request.preset,
        "--seed", str(request.seed),
        "--device", request.device,
        "--out", str(request.out),
    )  # fmt: skip
    if request.negative_prompt.strip():
        command += [f"--negative-prompt={request.negative_prompt.strip()}"]
    if request.model.strip():
        command += ["--model", request.model.strip()]
    if request.steps > 0:
        command += ["--steps", str(request.steps)]
    if request.guidance_scale > 0:
        command += ["--guidance-scale", repr(float(request.guidance_scale))]
    if request.preview_every > 0:
        command += ["--preview-every", str(request.preview_every)]
    if request.low_memory:
        command += ["--low-memory"]
    if request.perp_neg:
        command += ["--set", "guidance.perp_neg.enabled=true"]
    return command


def resume_command(python: Path, run_dir: Path, low_memory: bool = False) -> list[str]:
    """``python -m engine generate --resume RUN_DIR``: continue a stopped run from its checkpoint, with the
    settings it was started with (its config.json). ``low_memory`` turns the learned priors' low-memory mode on
    for the rest of the run: the way on for a run that ran out of GPU memory (the same guidance, less memory)."""
    command = engine_command(python, "generate", "--resume", str(run_dir))
    return [*command, "--low-memory"] if low_memory else command


def remesh_command(python: Path, run_dir: Path, threshold: float | None) -> list[str]:
    """``python -m engine remesh RUN_DIR [--threshold X]``: a new mesh from the run's saved density grid.

    No threshold: the engine picks one automatically, as it did for the run.
    """
    command = engine_command(python, "remesh", str(run_dir))
    if threshold is not None:
        command += ["--threshold", repr(float(threshold))]
    return command


def engine_python_path(configured: str, user_dir: Path) -> Path:
    """The Python that runs the engine: ``configured`` (the Engine Python preference, Blender's ``//``
    already resolved) if set, else the private environment's, which may not be installed yet.

    ``user_dir`` is the extension's user folder, where the engine set-up keeps that environment.
    """
    if configured.strip():
        return Path(configured.strip()).expanduser()
    return default_python_path(user_dir)


def resolve_engine_python(configured: str, user_dir: Path) -> Path:
    """``engine_python_path``, refused with what to do when it cannot run a job yet: a configured Python
    that does not exist, or a private environment that is not installed and checked."""
    python = engine_python_path(configured, user_dir)
    if configured.strip():
        if not python.is_file():
            raise RequestError(
                f"The Engine Python {python} does not exist; fix it in Preferences > Add-ons > DreamFusion."
            )
        return python
    state = env_state(default_env_dir(user_dir))
    if not state.ready:
        raise RequestError(f"Set up the engine first: {state.message} (Preferences > Add-ons > DreamFusion)")
    return python
