"""The IREM solver: an energy model plus an optimizer, both chosen by name."""

from __future__ import annotations

from irem_core.hookspecs import Register, hookimpl
from irem_plugins.irem.solver import IremConfig, build_irem_solver

__all__ = ["IremConfig", "build_irem_solver"]


@hookimpl
def irem_register_solvers(register: Register) -> None:
    """Register ``irem``."""
    register("irem", build_irem_solver, config=IremConfig, default=True, halting="optimizer")
