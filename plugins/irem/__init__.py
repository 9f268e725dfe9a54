"""The IREM solver: an energy model plus an optimizer, both chosen by name."""

from __future__ import annotations

import functools

from irem_core.plugins.hookspecs import Register, hookimpl
from irem_core.plugins.manager import Plugins
from irem_plugins.irem.solver import IremConfig, build_irem_solver

__all__ = ["IremConfig", "build_irem_solver"]


@hookimpl
def irem_register_solvers(register: Register, plugins: Plugins) -> None:
    """Register ``irem``; it builds its energy model and optimizer from ``plugins``."""
    register(
        "irem",
        functools.partial(build_irem_solver, plugins=plugins),
        config=IremConfig,
        default=True,
        halting="optimizer",
    )
