"""TensorBoard event files in ``DIR/tensorboard``, through ``torch.utils.tensorboard``."""

from __future__ import annotations

from collections.abc import Mapping

from irem_core.errors import IremError
from irem_core.reasoning.protocols import LogRun, LogValue
from irem_core.runs.files import run_folder
from irem_plugins.loggers.files import flatten

TENSORBOARD_DIR = "tensorboard"
FLUSH_SECONDS = 10
"""Longest delay before logged scalars reach the event file (``tensorboard --logdir``)."""


class TensorBoardLogger:
    """One scalar per flattened value (see :func:`~irem_plugins.loggers.files.flatten`),
    tagged by its name (``loss``, ``eval_same_mse/10``...), at step ``iteration``.

    A resumed run purges the events after the checkpoint's iteration, which it logs again.
    """

    def __init__(self, run: LogRun) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise IremError(
                "train.loggers names 'tensorboard', which needs the tensorboard "
                "package: pip install 'irem[tensorboard]' (or drop it from "
                "train.loggers)"
            ) from None
        purge = None if run.resumed_from is None else run.resumed_from + 1
        self.writer = SummaryWriter(
            str(run_folder(run.directory / TENSORBOARD_DIR)),
            purge_step=purge,
            flush_secs=FLUSH_SECONDS,
        )

    def log(self, iteration: int, values: Mapping[str, LogValue]) -> None:
        """Add every value as a scalar at step ``iteration``."""
        for name, number in flatten(values).items():
            self.writer.add_scalar(name, number, global_step=iteration)

    def close(self) -> None:
        """Flush the events and close the file."""
        self.writer.close()
