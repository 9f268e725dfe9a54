"""Building a run's components from its config, and loading a trained run."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core.config.schema import SolverSpec, TaskSpec
from irem_core.errors import IremError, PluginError
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.reasoning.protocols import Problems, Solver, Task, VectorInputTask
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
    domains = component.meta.domains
    if domains is not None and task.domain not in domains:
        raise IremError(
            f"solver {spec.name!r} (plugin {component.plugin.describe()}) serves "
            f"{' and '.join(map(repr, domains))} tasks; task {type(task).__name__} is a "
            f"{task.domain!r} task: choose another solver (irem plugins lists them), or give "
            f"the solver's plugin networks for {task.domain!r} tasks"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(seed))
        solver = component.factory(spec.options, task)
    if not isinstance(solver, Solver):
        raise IremError(
            f"solver {spec.name!r} from plugin {component.plugin.describe()} built a "
            f"{type(solver).__name__}, not an irem_core.Solver"
        )
    return solver


DEVICE_TYPES = ("cpu", "cuda")
"""The device types irem trains and evaluates on (``meta`` holds no data; others are untested)."""


def resolve_device(name: str) -> torch.device:
    """``torch.device(name)`` (``auto``: CUDA when available, else the CPU), with a clear
    error when it is unavailable."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise IremError(f"invalid device {name!r}: {error}") from None
    if device.type not in DEVICE_TYPES:
        raise IremError(f"device {name!r} is not one irem runs on; use cpu, cuda, cuda:N or auto")
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
    option = component.meta.size_option
    if option is None:
        raise IremError(
            f"task {component.name!r} has no size option, so --sizes does not apply "
            "(its model is tied to one problem size)"
        )
    sized = build_task(
        attrs.evolve(spec, options=attrs.evolve(spec.options, **{option: size})), plugins=plugins
    )
    trained, resized = _shape(build_task(spec, plugins=plugins)), _shape(sized)
    if resized != trained:
        raise IremError(
            f"task {component.name!r} at {option} = {size} has {resized} where the run's "
            f"problems ({option} = {getattr(spec.options, option)}) have {trained}, so a model "
            f"trained on them cannot read it: --sizes applies only to tasks whose answer rows "
            f"and inputs keep their width across sizes (e.g. graph tasks); evaluate this task "
            f"at its own size, or train a model per size"
        )
    return sized


def _shape(task: Task) -> str:
    """What a trained model's layers depend on: the answer row's width and, for a vector
    task, the input's (``F``, ``D_x``)."""
    shape = f"answer rows of {task.answer_features} features"
    if isinstance(task, VectorInputTask):
        shape += f" and inputs of {task.input_features}"
    return shape
