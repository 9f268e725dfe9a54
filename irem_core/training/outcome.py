"""How a training call ends: a :class:`TrainSummary`, or :class:`TrainingStopped` by a signal."""

from __future__ import annotations

from pathlib import Path

import attrs


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the handler that ``irem train`` installs
    (:mod:`irem_core.cli.train`)."""


class TrainingStopped(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C or SIGTERM) at ``iteration``; still a
    ``KeyboardInterrupt``, so ``except Exception`` in user code does not swallow it.

    Attributes:
        iteration: iterations completed when it stopped.
        saved: iteration of the last committed checkpoint (``None``: none yet).
        directory: the run directory.
        signal_exit: the conventional exit status, 130 (SIGINT) or 143 (SIGTERM).
    """

    def __init__(
        self, iteration: int, saved: int | None, directory: Path, interrupt: KeyboardInterrupt
    ) -> None:
        self.iteration, self.saved, self.directory = iteration, saved, directory
        self.signal_exit = 143 if isinstance(interrupt, Terminated) else 130
        where = (
            f"last checkpoint at iteration {saved} in {directory}; continue with --resume"
            if saved is not None
            else f"no checkpoint was written to {directory} yet"
        )
        super().__init__(f"stopped at iteration {iteration}; {where}")


@attrs.frozen
class TrainSummary:
    """What a finished :func:`train` call did.

    Attributes:
        directory: the run directory.
        iterations: iterations completed in total (including resumed ones).
        trained_iterations: iterations this call trained (fewer after a resume).
        wall_seconds: time this call took.
        final_loss: loss of the last iteration.
        problems_per_second: training problems (fresh + replayed) solved per second.
    """

    directory: Path
    iterations: int
    trained_iterations: int
    wall_seconds: float
    final_loss: float
    problems_per_second: float


def format_duration(seconds: float) -> str:
    """``"2 h 31 min"`` or ``"12 min"``."""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
