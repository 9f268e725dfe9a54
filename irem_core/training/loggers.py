"""Training loggers: the components of kind ``logger`` named in ``train.loggers``.

The trainer opens them on rank 0 (see :class:`Loggers`) and hands each the same values;
what a logger writes, and where in the run directory, is its plugin's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from irem_core.errors import ConfigError, PluginError
from irem_core.plugins.manager import Plugins
from irem_core.reasoning.protocols import Logger, LogRun, LogValue


def check_loggers(names: Sequence[str] | None, *, plugins: Plugins) -> None:
    """Raise a :class:`ConfigError` listing the installed loggers if a name in ``names``
    (``train.loggers``; ``None``: the defaults) is not one of them."""
    for name in names or ():
        try:
            plugins.get("logger", name)
        except PluginError as error:
            raise ConfigError(f"invalid configuration:\n  train.loggers: {error}") from None


def logger_files(*, plugins: Plugins) -> list[str]:
    """What every registered logger writes in a run directory (its ``files`` meta), in
    logger-name order."""
    return [
        name
        for component in plugins.registries["logger"].components()
        for name in component.meta.files
    ]


class Loggers:
    """The loggers named in ``names``, opened for one run; logs to all of them in order.

    Args:
        names: logger names (``train.loggers``).
        directory: the run directory.
        config: the run config as plain data.
        resumed_from: the checkpoint's iteration when resuming, else ``None``.
        plugins: where the loggers are registered.
    """

    def __init__(
        self,
        names: Sequence[str],
        directory: Path,
        config: dict[str, Any],
        resumed_from: int | None,
        *,
        plugins: Plugins,
    ) -> None:
        run = LogRun(directory, config, resumed_from)
        self.loggers: list[Logger] = []
        try:
            for name in names:
                logger = plugins.get("logger", name).factory(run)
                if not isinstance(logger, Logger):
                    raise PluginError(
                        f"logger {name!r} built {type(logger).__name__}, which "
                        "lacks log(iteration, values) or close()"
                    )
                self.loggers.append(logger)
        except BaseException:
            self.close()
            raise

    def log(self, iteration: int, values: Mapping[str, LogValue]) -> None:
        """Hand ``values`` measured at ``iteration`` to every logger."""
        for logger in self.loggers:
            logger.log(iteration, values)

    def close(self) -> None:
        """Close every opened logger (each once), in reverse order of opening."""
        while self.loggers:
            self.loggers.pop().close()
