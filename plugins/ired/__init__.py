"""IRED (Du, Mao, Tenenbaum, ICML 2024) as a solver plugin: annealed energy landscapes."""

from __future__ import annotations

import functools

from irem_core.plugins.hookspecs import Register, hookimpl
from irem_core.plugins.manager import Plugins
from irem_plugins.ired.solver import IredConfig, IredSolver, build_ired_solver

__all__ = ["IredConfig", "IredSolver", "build_ired_solver"]


@hookimpl
def irem_register_solvers(register: Register, plugins: Plugins) -> None:
    """Register ``ired`` for vector and graph tasks (energies with landscapes: ``mlp``,
    ``board``, ``gine``)."""
    register(
        "ired",
        functools.partial(build_ired_solver, plugins=plugins),
        config=IredConfig,
        domains=("vector", "graph"),
    )
