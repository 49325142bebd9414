"""Pictures of the panels in a real, windowed Blender: every state an artist meets, as PNGs in docs/images/ui/.

    sudo .venv/bin/python -m tools.screenshots [--root /work/debian13] [--setup] [--out docs/images/ui]

Not part of CI; run it whenever the panels change. It needs root (chroot, bind mounts) and a Debian 13 root with
Blender 4.3, Xvfb, ImageMagick and xdotool (``--setup`` makes one with tools/screenshots_setup.sh, about 4 min and
2 GB). It builds the extension zip from this tree, then starts Blender in that root under
``xvfb-run -s "-screen 0 1600x1000x24"`` with software GL and a private HOME, and Blender runs
tools/screenshot_driver.py: it installs the zip, drives the panel through each state and takes each picture with
ImageMagick's ``import -window root`` (Blender's own screenshot operator writes black images under Xvfb).

The engine runs on this machine's Python (``--engine-python``, the repository's .venv by default): Blender, inside
the root, starts it through a small script that steps back out of the root (``chroot /host``, where this machine's
file system is mounted), in the same working folder, which both see at the same path.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tools.build_extension import build

ROOT_DIR = Path(__file__).resolve().parents[1]
SETUP_SCRIPT = ROOT_DIR / "tools" / "screenshots_setup.sh"
DRIVER = ROOT_DIR / "tools" / "screenshot_driver.py"
SCREEN = "1600x1000x24"
HOST = "/host"  # where this machine's root is mounted inside the Debian root
TIMEOUT_S = 1200


def mounted(root: Path, work: Path) -> contextlib.AbstractContextManager[None]:
    """The mounts Blender and the engine need inside ``root``, taken down again afterwards."""

    @contextlib.contextmanager
    def mounts() -> Iterator[None]:
        done: list[Path] = []
        try:
            for source, target, flags in (
                ("proc", root / "proc", ["-t", "proc"]),
                ("/dev", root / "dev", ["--rbind"]),
                ("/", root / HOST.lstrip("/"), ["--rbind"]),
                (str(work), root / str(work).lstrip("/"), ["--bind"]),
            ):
                target.mkdir(parents=True, exist_ok=True)
                subprocess.run(["mount", *flags, source, str(target)], check=True)
                done.append(target)
                if "--rbind" in flags:  # unmounting it later must not reach the machine's own mounts
                    subprocess.run(["mount", "--make-rslave", str(target)], check=True)
            yield
        finally:
            for target in reversed(done):
                subprocess.run(["umount", "-R", "-l", str(target)], check=False)

    return mounts()


def engine_launcher(work: Path, python: Path) -> Path:
    """The "Engine Python" Blender is given: this machine's Python, started outside the root in the same folder."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")  # the priors' caches, as for tests
    step_out = ["/usr/sbin/chroot", HOST, "/usr/bin/env"]
    environment = [f"XDG_CACHE_HOME={cache}", f"HOME={work / 'home'}", str(python)]
    path = work / "engine-python"
    path.write_text(f'#!/bin/sh\nexec {shlex.join(step_out)} --chdir="$PWD" {shlex.join(environment)} "$@"\n')
    path.chmod(0o755)
    return path


def take_screenshots(root: Path, out: Path, python: Path) -> int:
    work = Path(tempfile.mkdtemp(prefix="dreamfusion-shots-"))
    try:
        zip_path = build(work / "dist")
        shutil.copy(DRIVER, work / DRIVER.name)
        (work / "home").mkdir()
        (work / "shots").mkdir()
        launcher = engine_launcher(work, python)
        blender = [
            "env", "-i", f"HOME={work / 'home'}", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LIBGL_ALWAYS_SOFTWARE=1",
            "xvfb-run", "-a", "-s", f"-screen 0 {SCREEN}",
            "blender", "--python", str(work / DRIVER.name),
            "--", str(zip_path), str(launcher), str(work / "shots"),
        ]  # fmt: skip
        with mounted(root, work):
            result = subprocess.run(["chroot", str(root), *blender], timeout=TIMEOUT_S, check=False)
        shots = sorted((work / "shots").glob("*.png"))
        out.mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, out / shot.name)
        print(f"{len(shots)} screenshots in {out}: {', '.join(shot.name for shot in shots)}")
        failed = result.returncode != 0 or (work / "shots" / "FAILED").exists() or not shots
        if failed:
            print("the driver failed: Blender's output above says where", file=sys.stderr)
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/work/debian13"), help="the Debian 13 root with Blender")
    parser.add_argument("--setup", action="store_true", help="create the root first when it is missing")
    parser.add_argument("--out", type=Path, default=ROOT_DIR / "docs" / "images" / "ui")
    parser.add_argument("--engine-python", type=Path, default=ROOT_DIR / ".venv" / "bin" / "python")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("it needs root (chroot and bind mounts): run it with sudo")
    if not (args.root / "usr" / "bin" / "blender").is_file():
        if not args.setup:
            parser.error(f"no Blender in {args.root}: add --setup to create it ({SETUP_SCRIPT.name}, about 4 min)")
        subprocess.run([str(SETUP_SCRIPT), str(args.root)], check=True)
    return take_screenshots(args.root.resolve(), args.out.resolve(), args.engine_python.absolute())


if __name__ == "__main__":
    sys.exit(main())
