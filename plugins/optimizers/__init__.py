"""Built-in optimizers: the paper's gradient descent, momentum, line search and Langevin.

Every one shares the core's descent loop, :class:`irem_core.DescentLoop`: truncated or full
backprop in training, and per-problem halting at inference.
"""

from __future__ import annotations

from irem_core.plugins.hookspecs import Register, hookimpl
from irem_plugins.optimizers.gradient_descent import GradientDescent, GradientDescentConfig
from irem_plugins.optimizers.langevin import Langevin, LangevinConfig
from irem_plugins.optimizers.line_search import LineSearch, LineSearchConfig
from irem_plugins.optimizers.momentum import Momentum, MomentumConfig


@hookimpl
def irem_register_optimizers(register: Register) -> None:
    """Register ``gd``, ``momentum``, ``linesearch`` and ``langevin``."""
    register("gd", GradientDescent, config=GradientDescentConfig)
    register("momentum", Momentum, config=MomentumConfig)
    register("linesearch", LineSearch, config=LineSearchConfig)
    register("langevin", Langevin, config=LangevinConfig)
