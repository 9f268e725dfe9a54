"""How many torch threads a command uses: ``--threads N``, or a policy that never slows a run.

torch starts one thread per core. On a machine of its own that is the fastest (1.2–2.0× one
thread on two cores), but when other processes keep cores busy, threads that share a core
wait for each other at every parallel region: two threads beside one busy process made a
shortest-path iteration 14× slower than one thread (docs/performance.md). So ``auto`` (the
default of ``irem train`` and ``irem eval``) uses torch's count minus the cores other
processes keep busy, measured from ``/proc/stat`` before the work starts and again at every
:meth:`ThreadPolicy.check` (``irem train`` checks at each metrics line), and says once on
stderr when it runs with fewer threads than cores. ``--threads N`` fixes the count, and so
does ``OMP_NUM_THREADS`` in the environment (torchrun's workers, for one); where
``/proc/stat`` does not exist (macOS, Windows) ``auto`` is torch's default.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import torch

from irem_core.errors import IremError

AUTO = "auto"
PROC_STAT = Path("/proc/stat")
SAMPLE_SECONDS = 0.2
"""How long :meth:`ThreadPolicy.start` watches the machine before choosing."""
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
BUSY_FROM = 0.3
"""Cores' worth of other processes' work that counts as a busy core: a process that shares
a core with our threads gets only part of it, so a third of a core already means one."""
IDLE_FIELDS = (3, 4)
"""``idle`` and ``iowait``: the fields of a ``/proc/stat`` CPU line that are not work."""


def parse_threads(text: str) -> int | str:
    """An argparse type: ``auto`` or a positive thread count."""
    if text == AUTO:
        return AUTO
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise IremError(f"expected a positive number of threads or 'auto', got {text!r}")
    return count


def cpu_busy_seconds(cpus: set[int], stat: Path = PROC_STAT) -> float | None:
    """Seconds the CPUs ``cpus`` have worked since boot, all processes together (``None``
    where ``stat`` cannot be read)."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    ticks = 0
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks += sum(
                int(value) for index, value in enumerate(fields[:8]) if index not in IDLE_FIELDS
            )
    return ticks / TICKS_PER_SECOND


class ThreadPolicy:
    """The torch thread count of this process: fixed, or ``auto`` (see the module).

    Args:
        requested: a thread count, or ``"auto"``.
        command: the command's name, for the message.
    """

    def __init__(self, requested: int | str, command: str) -> None:
        self.cpus = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()
        self.most = len(self.cpus) or (os.cpu_count() or 1)
        self.fixed = (
            requested
            if isinstance(requested, int)
            else (torch.get_num_threads() if "OMP_NUM_THREADS" in os.environ else None)
        )
        self.command = command
        self.warned = False
        self.last: tuple[float, float, float] | None = None
        """Wall clock, this process's CPU seconds and the CPUs' busy seconds at the last
        measurement."""

    def start(self) -> int:
        """Set the thread count before the work starts; returns it."""
        if self.fixed is not None:
            torch.set_num_threads(self.fixed)
            return self.fixed
        self._measure()
        time.sleep(SAMPLE_SECONDS)
        return self.check()

    def check(self) -> int:
        """``auto``: re-measure the other processes' load since the last measurement and
        set the thread count to the cores they leave free; returns the count."""
        if self.fixed is not None:
            return self.fixed
        others = self._measure()
        if others is not None:
            busy = math.floor(others + 1 - BUSY_FROM)
            threads = max(1, min(self.most, self.most - busy))
            if threads != torch.get_num_threads():
                torch.set_num_threads(threads)
            if threads < self.most and not self.warned:
                self.warned = True
                print(
                    f"irem {self.command}: other processes keep {others:.1f} of {self.most} "
                    f"cores busy; using {threads} torch thread{'s' * (threads > 1)} (threads "
                    "sharing a busy core run many times slower); --threads N fixes the count",
                    file=sys.stderr,
                )
        return torch.get_num_threads()

    def _measure(self) -> float | None:
        """Cores the other processes kept busy since the last call (``None`` the first time
        and where ``/proc/stat`` is missing)."""
        busy = cpu_busy_seconds(self.cpus) if self.cpus else None
        if busy is None:
            return None
        now, own = time.monotonic(), time.process_time()
        previous, self.last = self.last, (now, own, busy)
        if previous is None or now <= previous[0]:
            return None
        others = (busy - previous[2]) - (own - previous[1])
        return max(0.0, others / (now - previous[0]))
