"""The ``irem`` command line: one module per command, parsing and printing only."""

from irem_core.cli.app import entry_point, main

__all__ = ["entry_point", "main"]
