"""Factories of the baseline solvers: pick the task domain's networks, wrap them in a solver.

The domain modules are imported on demand, so vector tasks never import ``torch_geometric``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from irem_core.errors import IremError
from irem_core.reasoning.protocols import Task
from irem_plugins.baselines.options import (
    FeedforwardConfig,
    IterativeConfig,
    PonderConfig,
    ProgrammaticConfig,
    RecurrentConfig,
)
from irem_plugins.baselines.solvers import (
    FeedforwardSolver,
    PonderSolver,
    ProgrammaticSolver,
    UnrolledSolver,
)

DOMAIN_MODULES: dict[str, str] = {
    "vector": "irem_plugins.baselines.vector",
    "graph": "irem_plugins.baselines.graph",
}
"""Task domain -> module holding that domain's networks (same function names in each)."""


def networks(solver: str, task: Task) -> ModuleType:
    """The module of networks for ``task``'s domain; ``IremError`` when there is none."""
    domain = getattr(task, "domain", None)
    if domain not in DOMAIN_MODULES:
        raise IremError(
            f"solver {solver!r} serves {' and '.join(map(repr, DOMAIN_MODULES))} "
            f"tasks; task {type(task).__name__} is a {domain!r} task"
        )
    return importlib.import_module(DOMAIN_MODULES[domain])


def build_feedforward(options: FeedforwardConfig, task: Task) -> FeedforwardSolver:
    """``feedforward``: one pass of an MLP (vector) or a GINE stack + edge decoder (graph)."""
    return FeedforwardSolver(networks("feedforward", task).feedforward_network(options, task))


def build_recurrent(options: RecurrentConfig, task: Task) -> UnrolledSolver:
    """``recurrent``: an LSTM run for the step budget, trained on its last answer."""
    return UnrolledSolver(networks("recurrent", task).lstm_core(options, task, "recurrent"))


def build_iterative(options: IterativeConfig, task: Task) -> UnrolledSolver:
    """``iterative``: ``y ← y + f([y, x])`` from ``y0``, trained on the last answer like IREM
    (truncated backprop unless ``full_backprop``)."""
    return UnrolledSolver(
        networks("iterative", task).update_core(options, task), truncate=not options.full_backprop
    )


def build_ponder(options: PonderConfig, task: Task) -> PonderSolver:
    """``ponder``: PonderNet on the LSTM core."""
    return PonderSolver(networks("ponder", task).lstm_core(options, task, "ponder"), options)


def build_programmatic(options: ProgrammaticConfig, task: Task) -> ProgrammaticSolver:
    """``programmatic``: one learned module applied repeatedly to a scratch pad."""
    return ProgrammaticSolver(networks("programmatic", task).scratch_core(options, task))
