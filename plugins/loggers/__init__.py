"""Built-in training loggers: ``jsonl`` (the default), ``csv`` and ``tensorboard``."""

from __future__ import annotations

from irem_core.plugins.hookspecs import Register, hookimpl
from irem_plugins.loggers.files import CSV_FILE, JSONL_FILE, CsvLogger, JsonlLogger
from irem_plugins.loggers.tensorboard_logger import TENSORBOARD_DIR, TensorBoardLogger


@hookimpl
def irem_register_loggers(register: Register) -> None:
    """Register ``jsonl``, ``csv`` and ``tensorboard``."""
    register("jsonl", JsonlLogger, files=(JSONL_FILE,), default=True)
    register("csv", CsvLogger, files=(CSV_FILE,))
    register("tensorboard", TensorBoardLogger, files=(TENSORBOARD_DIR,))
