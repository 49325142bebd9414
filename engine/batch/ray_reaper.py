"""``python -m engine.batch.ray_reaper DRIVER_PID``: ends what a killed ``batch --ray local`` leaves of its Ray.

Ray ends the head it started for a driver with that driver (its GCS, raylet and workers share the driver's fate
through ``PR_SET_PDEATHSIG``), but its dashboard and runtime-env agents only poll for the raylet and then wait on
the dead GCS to report it: measured here, they ran on 60 s after a SIGKILL of the driver (Ray 2.60's
``process_watcher`` publishes that error with a fixed 60 s timeout). The driver starts this process right after
``ray.init``; it notes the driver's descendants every half second and, when the driver's pipe closes without the
word ``done`` (written once the driver has shut Ray down itself), it sends the last ones it saw SIGTERM, then
SIGKILL. A prompt's engine run goes with its Ray worker (Ray ends a dead worker's children), as in any kill: its
next run resumes from its last periodic checkpoint. Linux only (it reads ``/proc``); standard library only.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

DONE = "done"  # what the driver writes before it closes the pipe when it shut Ray down itself
POLL_S = 0.5
TERMINATE_S = 5.0  # after SIGTERM, how long before SIGKILL


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now, read from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def end(pids: set[int]) -> None:
    """SIGTERM to ``pids``, then SIGKILL to those still running after TERMINATE_S."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)
        deadline = time.monotonic() + TERMINATE_S
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)


def watch(driver: int) -> int:
    """Follow ``driver``'s descendants until its pipe on stdin closes; end them unless it said ``done``."""
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(sys.stdin.read().split()), daemon=True)
    reader.start()
    seen: set[int] = set()
    while reader.is_alive():
        seen = descendants(driver) - {os.getpid()} or seen
        reader.join(POLL_S)
    if DONE not in said:
        end(seen)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is the driver's to handle
    sys.exit(watch(int(sys.argv[1])))
