"""Building a run's components from its config, and loading a trained run."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import attrs
import torch
from torch import Tensor

from irem_core.runs.checkpoint import (
    BEST_FILE,
    Checkpoint,
    load_best,
    load_checkpoint,
    tensor_mismatches,
)
from irem_core.config.schema import RunConfig, SolverSpec, TaskSpec
from irem_core.config.compose import override_saved
from irem_core.config.convert import structure
from irem_core.errors import CheckpointError, IremError, PluginError
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.reasoning.protocols import Problems, Solver, Task
from irem_core.seeding import init_seed


def build_task(spec: TaskSpec, *, plugins: Plugins | None = None) -> Task:
    """The task named in ``spec``, built with its options (by ``plugins``, default: the
    installed plugins)."""
    component = resolve_plugins(plugins).get("task", spec.name)
    return component.factory(spec.options)


def check_problems(
    task_name: str, task: Task, problems: object, count: int, y0: object = None, *, plugins: Plugins
) -> None:
    """Check the problems ``task`` drew when asked for ``count`` (and, if given, its starting
    answers ``y0``) against the task contract; a :class:`PluginError` naming the plugin
    otherwise. Called where a command first draws problems, as energies are checked where
    they are computed."""
    source = f"task {task_name!r} (plugin {plugins.get('task', task_name).plugin.name})"
    if not isinstance(problems, Problems):
        raise PluginError(
            f"{source}'s sample returned a {type(problems).__name__}, not irem_core.Problems"
        )
    target, rows = problems.target, problems.row_problem
    wrong = []
    if problems.num_problems != count:
        wrong.append(f"{problems.num_problems} problems when asked for {count}")
    if not (
        isinstance(target, Tensor)
        and target.is_floating_point()
        and target.dim() == 2
        and target.shape[1] == task.answer_features
    ):
        wrong.append(
            f"targets of shape {_layout(target)}; expected (rows, "
            f"{task.answer_features}) floating point (answer_features)"
        )
    elif not (
        isinstance(rows, Tensor) and rows.dtype == torch.int64 and rows.shape == target.shape[:1]
    ):
        wrong.append(
            f"row_problem of shape {_layout(rows)}; expected "
            f"({target.shape[0]},) torch.int64, one problem index per answer row"
        )
    elif y0 is not None and not (
        isinstance(y0, Tensor) and (y0.shape, y0.dtype) == (target.shape, target.dtype)
    ):
        wrong.append(
            f"starting answers (init_answer) of shape {_layout(y0)}; expected "
            f"{_layout(target)}, the targets' shape and dtype"
        )
    if wrong:
        raise PluginError(f"{source} broke the task contract: it returned {'; '.join(wrong)}")


def _layout(value: object) -> str:
    """``(8, 9) torch.float32`` for a tensor, else the type's name."""
    if isinstance(value, Tensor):
        return f"{tuple(value.shape)} {value.dtype}"
    return type(value).__name__


def build_solver(
    spec: SolverSpec, task: Task, seed: int, *, plugins: Plugins | None = None
) -> Solver:
    """The solver named in ``spec`` for ``task``, its parameters initialised from ``seed``
    (built by ``plugins``, default: the installed plugins).

    The global torch RNG is used (``nn.Module`` initialisers need it) inside a fork, so the
    caller's RNG state is untouched; it is seeded with :func:`~irem_core.seeding.init_seed`.
    """
    component = resolve_plugins(plugins).get("solver", spec.name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(seed))
        solver = component.factory(spec.options, task)
    if not isinstance(solver, Solver):
        raise IremError(
            f"solver {spec.name!r} from plugin {component.plugin.describe()} built a "
            f"{type(solver).__name__}, not an irem_core.Solver"
        )
    return solver


def resolve_device(name: str) -> torch.device:
    """``torch.device(name)`` (``auto``: CUDA when available, else the CPU), with a clear
    error when it is unavailable."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise IremError(f"invalid device {name!r}: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise IremError("device 'cuda' requested but no CUDA GPU is available; use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise IremError(
            f"device {name!r} requested but this machine has "
            f"{torch.cuda.device_count()} GPU(s), cuda:0 onwards; pick one of them"
        )
    return device


def sized_task(spec: TaskSpec, size: int, *, plugins: Plugins) -> Task:
    """``spec``'s task with the size option it declares (registration meta ``size_option``,
    e.g. graph nodes) set to ``size``."""
    component = plugins.get("task", spec.name)
    option = component.meta.get("size_option")
    if option is None:
        raise IremError(
            f"task {component.name!r} has no size option, so --sizes does not apply "
            "(its model is tied to one problem size)"
        )
    return build_task(
        attrs.evolve(spec, options=attrs.evolve(spec.options, **{option: size})), plugins=plugins
    )


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
    solver = build_solver(config.solver, task, config.seed, plugins=plugins)
    mismatches = tensor_mismatches(solver.state_dict(), weights)
    if mismatches:
        which = f"{BEST_FILE} weights" if checkpoint == "best" else "weights"
        raise CheckpointError(
            f"the {which} in {directory} do not fit the solver its config "
            f"describes ({'; '.join(mismatches[:3])}); restore the run's "
            "files or retrain"
        )
    solver.load_state_dict(weights)
    solver.to(target).eval()
    return TrainedRun(config, task, solver, iteration, target, checkpoint)
