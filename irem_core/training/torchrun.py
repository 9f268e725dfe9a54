"""torchrun as ``irem train --nproc`` launches it: the same launcher, but a stop by signal
ends with one exit code instead of torchrun's ``SignalException`` traceback (the workers
and ``irem train`` already say where the run stopped)."""

from __future__ import annotations

import sys

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.run import main


def run(argv: list[str] | None = None) -> int:
    """Run torchrun with ``argv`` (default: this process's arguments); ``128 + signal`` when
    SIGINT or SIGTERM stopped it, else 0 (a failing worker still raises torchrun's error)."""
    try:
        main(argv)
    except SignalException as stop:
        return 128 + int(stop.sigval)
    return 0


if __name__ == "__main__":
    sys.exit(run())
