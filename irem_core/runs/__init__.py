"""Trained runs: building components from a config (:mod:`.build`), checkpoints, loading a run
(:mod:`.load`), evaluation over splits, budgets and sizes, solving new problems, nested
reasoning, and the memory checks that refuse absurd sizes up front."""

from __future__ import annotations

from typing import Any

from irem_core.deprecation import moved_attribute


def __getattr__(name: str) -> Any:
    """Names of the irem 0.1.0 module of this path, with a :class:`DeprecationWarning`."""
    return moved_attribute(__name__, name)
