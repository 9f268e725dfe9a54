"""The ``irem`` command line: one module per command, parsing and printing only."""

from typing import Any

from irem_core.cli.app import entry_point, main
from irem_core.deprecation import moved_attribute

__all__ = ["entry_point", "main"]


def __getattr__(name: str) -> Any:
    """Names of the irem 0.1.0 module of this path, with a :class:`DeprecationWarning`."""
    return moved_attribute(__name__, name)
