"""An example irem plugin: the ``sort`` task and the ``adam`` optimizer.

irem finds this module through the entry point ``example`` of group ``irem`` (see
pyproject.toml) and calls the hooks below once, when plugins are first loaded.
"""

from __future__ import annotations

from typing import Any

from irem_core import Register, hookimpl
from irem_plugin_example.adam import Adam, AdamConfig
from irem_plugin_example.sorting import SortConfig, SortTask

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"solvers": {"irem": {"energy": {"name": "mlp"}, "optimizer": {"name": "gd"}}}},
    "quick": {
        "task": {"length": 8},
        "train": {
            "iterations": 1000,
            "batch_size": 256,
            "replay_batch_size": 256,
            "lr": 5e-4,
            "eval_every": 250,
            "checkpoint_every": 250,
            "log_every": 25,
        },
        "solvers": {
            "irem": {"energy": {"name": "mlp", "hidden": 256}, "optimizer": {"name": "gd"}}
        },
    },
}
"""``irem train --task sort --preset quick|paper``: overrides of the core defaults."""


@hookimpl
def irem_register_tasks(register: Register) -> None:
    """Register ``sort``."""
    register("sort", SortTask, config=SortConfig, domain="vector", presets=PRESETS)


@hookimpl
def irem_register_optimizers(register: Register) -> None:
    """Register ``adam``."""
    register("adam", Adam, config=AdamConfig)
