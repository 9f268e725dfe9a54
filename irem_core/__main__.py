"""``python -m irem_core``: the irem CLI."""

from irem_core.cli.app import entry_point

entry_point()
