"""Built-in recursion strategies: ``fold`` (binary operations) and ``repeat`` (unary)."""

from __future__ import annotations

from irem_core.plugins.hookspecs import Register, hookimpl
from irem_plugins.recursion.strategies import Fold, RecursionOptions, Repeat


@hookimpl
def irem_register_recursions(register: Register) -> None:
    """Register ``fold`` and ``repeat``."""
    register("fold", Fold, config=RecursionOptions)
    register("repeat", Repeat, config=RecursionOptions)
