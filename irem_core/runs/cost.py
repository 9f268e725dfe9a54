"""Refusing time bombs up front: a lower bound of the time a command will take.

A solve costs at least :data:`SOLVE_SECONDS`, each of its descent steps at least
:data:`STEP_SECONDS` plus :data:`MODULE_SECONDS` per module of the solver (each runs at
least one kernel forward and one backward), whatever the machine. A command whose bound
exceeds :data:`LONG_SECONDS` is refused before anything is built or written, with the
estimate, unless its user passes ``--allow-long``. The solver's modules are counted on the
``meta`` device, and the count stops as soon as the bound is exceeded, so a config of a
million layers is refused without building them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from irem_core.errors import IremError

SOLVE_SECONDS = 250e-6
"""The least time of one solve (drawing starts, encoding, choosing the answer), in seconds."""

STEP_SECONDS = 20e-6
"""The least time of one descent step beyond its modules (the gradient w.r.t. the answer)."""

MODULE_SECONDS = 2e-6
"""The least time one module adds to a descent step (one kernel forward, one backward)."""

LONG_SECONDS = 300.0
"""Commands whose lower bound exceeds this are refused unless ``--allow-long`` is given."""

ALLOW_LONG = "--allow-long"
"""The option that lets a command run however long its estimate."""


def solve_seconds(steps: int, modules: int) -> float:
    """The least time of one solve of ``steps`` descent steps by a solver of ``modules``."""
    return SOLVE_SECONDS + steps * (STEP_SECONDS + modules * MODULE_SECONDS)


def duration(seconds: float) -> str:
    """``"3.2 s"``, ``"12 min"``, ``"4.5 h"`` or ``"12,345 days"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"


def check_duration(command: str, seconds: float, what: str, lower: str) -> None:
    """Refuse ``command`` whose lower bound ``seconds`` (of ``what``) exceeds
    :data:`LONG_SECONDS`; the message names the setting to ``lower`` and the override."""
    if seconds > LONG_SECONDS:
        raise IremError(
            f"{command} would take at least {duration(seconds)} ({what}); lower {lower}, "
            f"or pass {ALLOW_LONG} if you mean it"
        )


class TooManyModules(Exception):
    """Raised inside a :func:`module_budget` block once more than its budget is built."""


@contextmanager
def module_budget(limit: int | None) -> Iterator[list[int]]:
    """Count the modules registered inside the block (into the yielded one-item list);
    with a ``limit``, raise :class:`TooManyModules` as soon as the count exceeds it."""
    count = [0]

    def counted(module: Any, name: str, submodule: Any) -> None:
        count[0] += 1
        if limit is not None and count[0] > limit:
            raise TooManyModules()

    handle = torch.nn.modules.module.register_module_module_registration_hook(counted)
    try:
        yield count
    finally:
        handle.remove()


def module_limit(solves: float, steps: int, allow_long: bool) -> int | None:
    """The most modules a solver may have before ``solves`` solves of ``steps`` steps
    exceed :data:`LONG_SECONDS` (``None``: no limit, with ``allow_long``)."""
    if allow_long:
        return None
    per_module = max(solves * steps * MODULE_SECONDS, 1e-12)
    return max(1, int(LONG_SECONDS / per_module))
