"""Exceptions the CLI turns into exit codes: :class:`IremError` means bad input (exit 2)."""

from __future__ import annotations


class IremError(Exception):
    """Bad input from the user or a plugin: the message says what is wrong and how to fix it.

    The CLI prints the message and exits with status 2.
    """


class ConfigError(IremError):
    """A configuration file, preset or ``--set`` override is malformed."""


class PluginError(IremError):
    """A plugin failed to load, registered a clashing name, or broke its contract."""


class CheckpointError(IremError):
    """A run directory or checkpoint is missing, incomplete or corrupted."""


class NonFiniteError(IremError):
    """Training produced NaN or Inf values."""
