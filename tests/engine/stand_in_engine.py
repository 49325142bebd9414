"""``python -m tests.engine.stand_in_engine COMMAND ...``: the engine's command line on the stand-in accelerator.

The one seam: the device ``generate`` chooses (``choose_device`` in ``engine/run_folder.py``, still asked, so a bad
``--device`` is still refused) is replaced by the stand-in device of ``tests/stand_in_device.py``; everything else
is the engine as a user runs it. A tensor left on the CPU then fails the run as it would on a GPU: an ``error``
event of kind "internal" whose message names the op, and the traceback in the run's ``engine-error.log``.
"""

from __future__ import annotations

import sys

import torch

from engine import cli, run_folder
from tests.stand_in_device import StandInDevice


def main(argv: list[str]) -> int:
    torch.set_num_threads(1)  # what a CPU run uses (RunConfig.cpu_threads); the machine is shared
    choose_device = run_folder.choose_device
    with StandInDevice() as device:

        def choose_stand_in(name: str) -> torch.device:
            choose_device(name)  # a device this machine cannot use is still refused
            return device

        run_folder.choose_device = choose_stand_in
        return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
