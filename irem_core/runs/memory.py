"""Refusing absurd sizes up front: a lower bound of the memory a command will allocate.

Each estimate adds up only tensors the command certainly allocates (the model and its Adam
state, the replay rings, the problem sets, recorded iterates), so it is a lower bound: a
command is refused when even that exceeds the memory available on its device, before any
of it is allocated. The model is counted on the ``meta`` device (no memory), and one
problem drawn from the task gives the bytes per problem.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import torch

from irem_core.config.schema import RunConfig, SolverSpec
from irem_core.errors import IremError
from irem_core.plugins.manager import Plugins
from irem_core.reasoning.protocols import Task
from irem_core.runs.build import build_solver
from irem_core.runs.cost import (
    TooManyModules,
    check_duration,
    module_budget,
    module_limit,
    solve_seconds,
)

PROCESS_BYTES = 200_000_000
"""The least memory of one process of ``irem train --nproc`` (Python and torch loaded)."""

ALLOCATION = re.compile(r"can't allocate memory: you tried to allocate (\d+) bytes")
"""torch's message when the host cannot allocate a tensor, with the bytes asked for."""

CPU = torch.device("cpu")

Need = tuple[str, int, str]
"""One allocation: what it is, its bytes, and the setting that sizes it."""


def available_memory(device: torch.device) -> int:
    """Bytes free on ``device``: CUDA's free memory, else the host's ``MemAvailable``."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass  # not Linux: the free physical pages instead
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def solver_size(
    spec: SolverSpec, task: Task, *, plugins: Plugins, max_modules: int | None = None
) -> tuple[int, int]:
    """Bytes of the parameters and number of modules of ``spec``'s solver for ``task``,
    built on the meta device; :class:`~irem_core.runs.cost.TooManyModules` as soon as it
    registers more than ``max_modules``."""
    with torch.device("meta"), module_budget(max_modules) as modules:
        solver = build_solver(spec, task, 0, plugins=plugins)
    size = sum(parameter.numel() * parameter.element_size() for parameter in solver.parameters())
    return size, modules[0]


def problem_bytes(task: Task, split: str) -> tuple[int, int]:
    """Bytes of one problem of ``split`` as the replay ring stores it (``pack`` of the
    problem and its answer) and of its answer alone, from one problem drawn on the CPU; a
    problem too large to draw is an :class:`IremError` with the bytes it asked for."""
    generator = torch.Generator().manual_seed(0)
    try:
        problems = task.sample(split, 1, generator)
        packed = task.pack(problems, task.init_answer(problems, generator))
    except RuntimeError as error:
        asked = ALLOCATION.search(str(error))
        if asked is None:
            raise
        raise IremError(
            f"one {type(task).__name__} problem does not fit in memory (drawing it asked for "
            f"{_gigabytes(int(asked[1]))}; cpu has {_gigabytes(available_memory(CPU))} "
            "available); lower the task's size options (e.g. task.size, task.nodes, "
            "task.max_train_nodes) or --sizes"
        ) from None
    return sum(tensor.nbytes for tensor in packed.values()), problems.target.nbytes


def check_memory(command: str, needs: Sequence[Need], device: torch.device) -> None:
    """Raise an :class:`IremError` when the ``needs`` together exceed the memory available
    on ``device``; the message lists them, largest first, and names the setting to lower."""
    total = sum(size for _, size, _ in needs)
    available = available_memory(device)
    if total <= available:
        return
    ordered = sorted(needs, key=lambda need: -need[1])
    parts = ", ".join(
        f"{what} {_gigabytes(size)}" for what, size, _ in ordered if size >= total / 100
    )
    raise IremError(
        f"{command} needs at least {_gigabytes(total)} of memory ({parts}) but "
        f"{device.type} has {_gigabytes(available)} available; lower "
        f"{ordered[0][2]}"
    )


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:,.1f} GB"


def check_training_cost(
    config: RunConfig, task: Task, device: torch.device, *, plugins: Plugins, allow_long: bool
) -> None:
    """Refuse a training run that would take longer than
    :data:`~irem_core.runs.cost.LONG_SECONDS` (unless ``allow_long``) or whose model and
    Adam state, replay rings, batch and validation problems cannot fit on ``device`` (the
    model is checked before a problem is drawn)."""
    settings = config.train
    work = f"{settings.iterations:,} iterations of {settings.steps:,} steps"
    lower = "train.iterations, train.steps or the model's depth"
    limit = module_limit(settings.iterations, settings.steps, allow_long)
    try:
        size, modules = solver_size(config.solver, task, plugins=plugins, max_modules=limit)
    except TooManyModules:
        seconds = settings.iterations * solve_seconds(settings.steps, (limit or 0) + 1)
        at_least = f"{work}, each through at least {(limit or 0) + 1:,} modules"
        check_duration("this run", seconds, at_least, lower)
        raise
    if not allow_long:
        seconds = settings.iterations * solve_seconds(settings.steps, modules)
        check_duration("this run", seconds, f"{work}, each through {modules:,} modules", lower)
    check_training_memory(config, task, device, size)


def check_training_memory(config: RunConfig, task: Task, device: torch.device, size: int) -> None:
    """Refuse a training run whose model (of ``size`` bytes of parameters) and Adam state,
    replay rings, batch and validation problems cannot fit on ``device``."""
    settings = config.train
    copies = 5 if settings.ema_decay else 4  # weights, gradients, two moments (+ average)
    model: Need = (
        "model, gradients and Adam moments",
        copies * size,
        "the model's width (e.g. solver.energy.hidden) or task.size",
    )
    check_memory("this run", [model], device)
    state, _ = problem_bytes(task, "train")
    replay = settings.replay_capacity * state if settings.replay_batch_size else 0
    check_memory(
        "this run",
        [
            model,
            ("replay rings", replay, "train.replay_capacity"),
            (
                "one batch",
                (settings.batch_size + settings.replay_batch_size) * state,
                "train.batch_size",
            ),
            ("validation problems", settings.eval_problems * state, "train.eval_problems"),
        ],
        device,
    )


def check_evaluation_memory(
    command: str,
    task: Task,
    split: str,
    count: int,
    recorded: int,
    steps: int,
    device: torch.device,
) -> None:
    """Refuse drawing ``count`` problems of ``split`` and recording ``steps + 1`` iterates of
    ``recorded`` of them at once when that cannot fit on ``device``."""
    state, answer = problem_bytes(task, split)
    check_memory(
        command,
        [
            ("problem set", count * (state - answer), "-n"),
            (
                "recorded iterates",
                recorded * (steps + 1) * answer,
                "--steps (or eval.batch_size, the problems solved at once)",
            ),
        ],
        device,
    )
