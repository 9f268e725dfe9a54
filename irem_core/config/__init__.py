"""A run's configuration: the schema (:mod:`.schema`), conversion from plain data
(:mod:`.convert`) and composition of presets, files and ``--set`` overrides (:mod:`.compose`)."""

from __future__ import annotations

from typing import Any

from irem_core.deprecation import moved_attribute


def __getattr__(name: str) -> Any:
    """Names of the irem 0.1.0 module of this path, with a :class:`DeprecationWarning`."""
    return moved_attribute(__name__, name)
