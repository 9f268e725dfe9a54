"""The checks a training run passes before anything is written or built.

:func:`check_training` is the one validation pass over a run's config: the CLI calls it
before it trains or re-launches itself under torchrun, and :func:`~irem_core.training.loop.train`
calls it for API users. What needs a built model (trainable parameters, the task's contract)
is checked by the :class:`~irem_core.training.loop.Trainer`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from irem_core.config.convert import unstructure
from irem_core.config.schema import RunConfig
from irem_core.errors import IremError
from irem_core.plugins.manager import Plugins
from irem_core.runs.build import resolve_device
from irem_core.runs.checkpoint import CONFIG_FILE, read_record
from irem_core.training.distributed import resolve_shards
from irem_core.training.loggers import check_loggers
from irem_core.training.precision import check_precision

FIXED_ON_RESUME = {
    "seed": "it seeds the run's generators",
    "task": "the run's problems and the checkpoint's weights and replay rings depend on it",
    "solver": "the checkpoint's weights depend on it",
    "train.replay_capacity": "the saved replay rings and their cursors depend on it",
    "train.adam_betas": "the saved optimizer state holds the run's own",
    "train.weight_decay": "the saved optimizer state holds the run's own",
}
"""Config fields (and sections) a resumed run keeps, with why; ``--set`` may change others."""


CHANGEABLE_ON_RESUME = ("solver.optimizer",)
"""Parts of a :data:`FIXED_ON_RESUME` section that a resume may change: the descent method
(its step size, halting) holds no saved state."""


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``data`` (nested dicts) as ``{"a.b.c": leaf}``; lists are leaves."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _fixed_reason(path: str) -> str | None:
    """Why ``path`` (a dotted config field) may not change on resume; ``None`` if it may."""
    if any(path == part or path.startswith(part + ".") for part in CHANGEABLE_ON_RESUME):
        return None
    for fixed, reason in FIXED_ON_RESUME.items():
        if path == fixed or path.startswith(fixed + "."):
            return reason
    return None


def check_resume_config(config: RunConfig, saved: dict[str, Any], directory: Path) -> None:
    """Refuse resuming the run in ``directory``, whose saved config is ``saved`` (plain
    data), with ``config`` when it changes a field the run's identity or checkpoint depends
    on (see :data:`FIXED_ON_RESUME`); fields new since the run was saved are not compared."""
    old, new = flatten(saved), flatten(unstructure(config))
    for path in sorted(old.keys() | new.keys(), key=lambda path: (not path.endswith("name"), path)):
        before, after = old.get(path), new.get(path)
        if path not in old or before == after:
            continue
        reason = _fixed_reason(path)
        if reason is not None:
            raise IremError(
                f"--resume cannot change {path} of the run in {directory} ({before!r} → "
                f"{after!r}): {reason}; drop the --set that changes it, or start a new run"
            )


def check_training(
    config: RunConfig, directory: Path, *, world_size: int, resume: bool, plugins: Plugins
) -> None:
    """Every config-level check of a run of ``world_size`` processes into ``directory``,
    before anything is written or built: its loggers, device and precision, the split of
    its batch into shards and, with ``resume``, that it continues the saved run (see
    :func:`check_resume_config`). What needs a built model is the trainer's to check."""
    check_loggers(config.train.loggers, plugins=plugins)
    check_precision(config.train.precision, resolve_device(config.device))
    saved = read_record(directory) if resume and (directory / CONFIG_FILE).exists() else None
    shards = saved.get("training", {}).get("shards", 1) if saved else None
    resolve_shards(config.train, world_size, shards if isinstance(shards, int) else None)
    if saved is not None:
        check_resume_config(config, saved["config"], directory)
