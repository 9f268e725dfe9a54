"""Built-in optimizers: the paper's gradient descent."""

from __future__ import annotations

from irem_core.hookspecs import Register, hookimpl
from irem_plugins.optimizers.gradient_descent import GradientDescent, GradientDescentConfig


@hookimpl
def irem_register_optimizers(register: Register) -> None:
    """Register ``gd``."""
    register("gd", GradientDescent, config=GradientDescentConfig)
