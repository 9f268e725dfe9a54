"""Plugins: the hooks (:mod:`.hookspecs`), typed registrations (:mod:`.registry`) and the manager
that loads entry points into registries (:mod:`.manager`)."""

from __future__ import annotations

from typing import Any

from irem_core.deprecation import moved_attribute


def __getattr__(name: str) -> Any:
    """Names of the irem 0.1.0 module of this path, with a :class:`DeprecationWarning`."""
    return moved_attribute(__name__, name)
