"""Loading a trained run directory: its config, task and trained solver, with its plugins checked."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import attrs
import torch
from torch import Tensor

from irem_core.config.compose import override_saved
from irem_core.config.convert import structure
from irem_core.config.schema import RunConfig
from irem_core.errors import CheckpointError, IremError, PluginError
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.reasoning.protocols import Solver, Task
from irem_core.runs.build import build_solver, build_task, resolve_device
from irem_core.runs.checkpoint import (
    BEST_FILE,
    Checkpoint,
    load_best,
    load_checkpoint,
    tensor_mismatches,
)
from irem_core.runs.cost import TooManyModules, module_budget


def check_run_plugins(directory: str | Path, *, plugins: Plugins) -> None:
    """Raise a :class:`PluginError` with the ``pip install`` line of every plugin the run in
    ``directory`` was trained with and ``plugins`` lack (for ``--resume`` and eval)."""
    _check_plugins_installed(load_checkpoint(Path(directory), with_state=False), directory, plugins)


def _check_plugins_installed(
    checkpoint: Checkpoint, directory: str | Path, plugins: Plugins
) -> None:
    """Raise a :class:`PluginError` naming every plugin the checkpoint needs but ``plugins``
    lack, or a component that another plugin now provides."""
    missing = []
    for key, plugin in checkpoint.components.items():
        kind, _, name = key.partition(":")
        if plugins.registries[kind].find(name) is None:
            origin = checkpoint.plugins.get(plugin, {})
            distribution = origin.get("distribution") or plugin
            missing.append(
                f"  {kind} {name!r} from plugin {plugin!r} (distribution "
                f"{distribution} {origin.get('version', '')}): "
                f"pip install '{distribution}'"
            )
    if missing:
        raise PluginError(
            f"the run in {directory} needs components that are not installed in "
            f"{sys.prefix}:\n" + "\n".join(missing)
        )
    for key, plugin in checkpoint.components.items():
        kind, _, name = key.partition(":")
        provider = plugins.get(kind, name).plugin
        if provider.name != plugin:
            raise PluginError(
                f"the run in {directory} was trained with {kind} {name!r} from plugin "
                f"{plugin!r}, but {kind} {name!r} now comes from plugin "
                f"{provider.describe()}; install the plugin it was trained with or "
                "block the other one with IREM_BLOCK_PLUGINS"
            )


@attrs.frozen
class TrainedRun:
    """A trained run loaded from its directory.

    Attributes:
        config: the run config.
        task: its task.
        solver: its solver, with trained parameters, in eval mode.
        iteration: iterations it was trained for (for the best weights: the iteration
            that scored them).
        device: where the solver lives.
        checkpoint: the weights loaded, ``"last"`` or ``"best"``.
    """

    config: RunConfig
    task: Task
    solver: Solver
    iteration: int
    device: torch.device
    checkpoint: str = "last"


CHECKPOINTS = ("last", "best")
"""The weights a run offers: the last checkpoint's, or those of the lowest validation MSE."""


def _check_weights_fit(
    config: RunConfig, task: Task, weights: dict[str, Tensor], which: str, *, plugins: Plugins
) -> None:
    """Refuse a solver (``config``'s, for ``task``) that ``weights`` do not fit, from its
    build on the meta device: nothing is allocated, and the build stops once it has far more
    modules than the weights could fill (``--set solver.energy.layers=1000000``)."""
    limit = 4 * len(weights) + 100
    try:
        with torch.device("meta"), module_budget(limit):
            solver = build_solver(config.solver, task, config.seed, plugins=plugins)
    except TooManyModules:
        mismatches = [f"the solver has more than {limit:,} modules for {len(weights)} tensors"]
    else:
        mismatches = tensor_mismatches(solver.state_dict(), weights)
    if mismatches:
        raise CheckpointError(
            f"{which} do not fit the solver its config describes "
            f"({'; '.join(mismatches[:3])}); drop a --set that changes its shape, restore "
            "the run's files or retrain"
        )


def load_run(
    directory: str | Path,
    device: str | None = None,
    overrides: Sequence[str] = (),
    checkpoint: str = "last",
    *,
    plugins: Plugins | None = None,
) -> TrainedRun:
    """Load the run in ``directory`` (as written by ``irem train``) for evaluation.

    Args:
        directory: the run directory.
        device: where to put the solver (default: the run's device).
        overrides: ``key=value`` changes to the saved config before the solver is built,
            e.g. ``solver.optimizer.name=momentum`` to reason with another optimizer (which
            then gets its own defaults, not the trained one's options; see
            :func:`~irem_core.config.schema.override_saved`).
        checkpoint: ``"last"``, the weights of the last checkpoint, or ``"best"``, those of
            the lowest validation MSE seen in training (``best.safetensors``).
        plugins: the plugins that build its components (default: the installed plugins).
    """
    plugins = resolve_plugins(plugins)
    if checkpoint not in CHECKPOINTS:
        raise IremError(f"checkpoint={checkpoint!r} is neither 'last' nor 'best'")
    saved = load_checkpoint(Path(directory), with_state=False)
    data = saved.config
    override_saved(data, overrides)
    _check_plugins_installed(saved, directory, plugins)
    weights, iteration = saved.model, saved.iteration
    if checkpoint == "best":
        best = load_best(Path(directory))
        weights, iteration = best.model, best.iteration
    config = structure(data, RunConfig, plugins=plugins)
    target = resolve_device(device or config.device)
    task = build_task(config.task, plugins=plugins)
    which = f"{BEST_FILE} weights" if checkpoint == "best" else "weights"
    _check_weights_fit(config, task, weights, f"the {which} in {directory}", plugins=plugins)
    solver = build_solver(config.solver, task, config.seed, plugins=plugins)
    solver.load_state_dict(weights)
    solver.to(target).eval()
    return TrainedRun(config, task, solver, iteration, target, checkpoint)
