"""How a training call ends: a :class:`TrainSummary`, or :class:`TrainingStopped` by a signal."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the handler :func:`stop_on_signals` installs."""


def signal_exit(interrupt: KeyboardInterrupt) -> int:
    """The conventional exit status of a process stopped by ``interrupt``: 143 (SIGTERM) or
    130 (SIGINT)."""
    if isinstance(interrupt, TrainingStopped):
        return interrupt.signal_exit
    return 143 if isinstance(interrupt, Terminated) else 130


def signal_name(interrupt: KeyboardInterrupt) -> str:
    """``SIGTERM`` or ``Ctrl-C (SIGINT)``: what stopped the process."""
    return "SIGTERM" if isinstance(interrupt, Terminated) else "Ctrl-C (SIGINT)"


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` as Ctrl-C raises
    ``KeyboardInterrupt``, so one policy stops a command from start to exit; the previous
    handler is restored after. Outside the main thread (where Python delivers signals)
    nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class TrainingStopped(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C or SIGTERM) at ``iteration``, or before it started
    (``iteration`` ``None``); still a ``KeyboardInterrupt``, so ``except Exception`` in user
    code does not swallow it.

    Attributes:
        iteration: iterations completed when it stopped (``None``: it had not started).
        saved: iteration of the last committed checkpoint (``None``: none yet).
        directory: the run directory.
        signal_exit: the conventional exit status, 130 (SIGINT) or 143 (SIGTERM).
    """

    def __init__(
        self,
        iteration: int | None,
        saved: int | None,
        directory: Path,
        interrupt: KeyboardInterrupt,
    ) -> None:
        self.iteration, self.saved, self.directory = iteration, saved, directory
        self.signal_exit = signal_exit(interrupt)
        super().__init__(_stop_message(iteration, saved, directory))


def _stop_message(iteration: int | None, saved: int | None, directory: Path) -> str:
    """What :class:`TrainingStopped` says: where training stopped and how to continue."""
    if iteration is None and saved is None:
        return f"stopped before training started; nothing was written to {directory}"
    if iteration is None:
        return (
            f"stopped before training resumed; the run in {directory} is unchanged at "
            f"iteration {saved}; continue with --resume"
        )
    where = (
        f"last checkpoint at iteration {saved} in {directory}; continue with --resume"
        if saved is not None
        else f"no checkpoint was written to {directory} yet"
    )
    return f"stopped at iteration {iteration}; {where}"


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
