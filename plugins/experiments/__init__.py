"""Experiments over installed tasks and solvers: ``irem reproduce`` and ``irem plot``.

The core knows no task or solver; this plugin trains and evaluates the ones installed and
tabulates them against the paper's numbers that each task declares (meta ``paper``).
"""

from __future__ import annotations

from irem_core.plugins.hookspecs import Register, hookimpl
from irem_plugins.experiments.command import add_plot_command, add_reproduce_command


@hookimpl
def irem_register_commands(register: Register) -> None:
    """Register ``irem reproduce`` and ``irem plot``."""
    register(
        "reproduce",
        add_reproduce_command,
        help="train and evaluate solvers on tasks; tabulate against the paper",
    )
    register(
        "plot",
        add_plot_command,
        help="draw a run's training curves and its error against steps (PNG)",
    )
