"""Baseline solvers of the paper: feed-forward, recurrent, iterative, PonderNet, programmatic.

Each serves ``vector`` and ``graph`` tasks (declared with ``domains=``) through the same trainer
and evaluator as IREM; see docs/baselines.md for their designs. ``uses_start=False`` marks
solvers that ignore the start ``y0`` (and hence gain nothing from the replay buffer).
"""

from __future__ import annotations

from irem_core.plugins.hookspecs import Register, hookimpl
from irem_plugins.baselines.factories import (
    DOMAIN_MODULES,
    build_feedforward,
    build_iterative,
    build_ponder,
    build_programmatic,
    build_recurrent,
)
from irem_plugins.baselines.options import (
    FeedforwardConfig,
    IterativeConfig,
    PonderConfig,
    ProgrammaticConfig,
    RecurrentConfig,
)

DOMAINS = tuple(DOMAIN_MODULES)
"""The task domains the baselines have networks for (declared in their registrations)."""


@hookimpl
def irem_register_solvers(register: Register) -> None:
    """Register ``feedforward``, ``recurrent``, ``iterative``, ``ponder`` and ``programmatic``."""
    register(
        "feedforward",
        build_feedforward,
        config=FeedforwardConfig,
        uses_start=False,
        domains=DOMAINS,
    )
    register(
        "recurrent", build_recurrent, config=RecurrentConfig, uses_start=False, domains=DOMAINS
    )
    register("iterative", build_iterative, config=IterativeConfig, uses_start=True, domains=DOMAINS)
    register("ponder", build_ponder, config=PonderConfig, uses_start=False, domains=DOMAINS)
    register(
        "programmatic",
        build_programmatic,
        config=ProgrammaticConfig,
        uses_start=False,
        domains=DOMAINS,
    )
