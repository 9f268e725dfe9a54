"""Nested evaluation: error after each composed operation, against the exact composition."""

from __future__ import annotations

import torch
from torch import Tensor

from irem_core.config.convert import structure
from irem_core.errors import IremError
from irem_core.plugins.manager import Plugins
from irem_core.reasoning.protocols import NestableTask, Problems, Solver, Task, Trajectory
from irem_core.runs.cost import SOLVE_SECONDS, check_duration, solve_seconds
from irem_core.runs.memory import check_memory, problem_bytes
from irem_core.seeding import generator as seeded_generator


class OracleSolver(Solver):
    """Answers every problem with its exact target: composing it gives the exact result."""

    def solve(
        self,
        problems: Problems,
        y0: Tensor,
        steps: int,
        *,
        differentiable: bool = False,
        record: bool = False,
        generator: torch.Generator | None = None,
    ) -> Trajectory:
        """The target as the answer at every step."""
        answer = problems.target
        steps_used = torch.zeros(problems.num_problems, dtype=torch.long, device=answer.device)
        answers = answer.expand(steps + 1, *answer.shape) if record else None
        return Trajectory(answer=answer, steps_used=steps_used, answers=answers)


def nested_mse(
    solver: Solver,
    task: Task,
    strategy: str,
    depth: int,
    split: str,
    num_problems: int,
    steps: int,
    seed: int,
    device: torch.device,
    *,
    plugins: Plugins,
    allow_long: bool = False,
) -> list[float]:
    """MSE after each of ``depth`` composed operations of ``strategy`` (a recursion that
    ``plugins`` register).

    ``task`` must be a :class:`~irem_core.reasoning.protocols.NestableTask`. Operands are drawn from
    ``task.sample_operands`` (seeded); the reference is the same strategy applied with
    :class:`OracleSolver`. Sizes that cannot fit in memory are refused first (see
    :mod:`irem_core.runs.memory`), then, unless ``allow_long``, those that would take too
    long (see :mod:`irem_core.runs.cost`).
    """
    if depth <= 0:
        raise IremError(f"--depth must be positive, got {depth}")
    if not isinstance(task, NestableTask):
        raise IremError(
            f"task {type(task).__name__} has no operation to compose (no "
            "sample_operands), so it does not support nested reasoning; addition "
            "and inverse do"
        )
    component = plugins.get("recursion", strategy)
    recursion = component.factory(structure({}, component.config, plugins=plugins))
    arity = getattr(task, "operation_arity", None)
    if arity is not None and arity != recursion.arity:
        raise IremError(
            f"strategy {strategy!r} composes an operation of {recursion.arity} "
            f"operand(s), but {type(task).__name__}'s operation takes {arity}; choose "
            "a strategy of that arity (fold: 2, repeat: 1)"
        )
    operands = depth * (recursion.arity - 1) + 1
    _, answer = problem_bytes(task, split)
    check_memory(
        "irem nested",
        [
            ("operands", operands * num_problems * answer, "--depth or -n"),
            ("answers after each operation", 2 * depth * num_problems * answer, "--depth or -n"),
            ("recorded iterates", num_problems * (steps + 1) * answer, "--steps or -n"),
        ],
        device,
    )
    if not allow_long:
        modules = sum(1 for _ in solver.modules()) if isinstance(solver, torch.nn.Module) else 1
        check_duration(
            "irem nested",
            depth * (solve_seconds(steps, modules) + SOLVE_SECONDS),
            f"{depth:,} composed operations of {steps:,} steps",
            "--depth or --steps",
        )
    generator = seeded_generator(seed, "nested", device)
    drawn = task.sample_operands(split, num_problems, operands, generator)
    exact = recursion.solve(OracleSolver(), task, drawn, depth, steps, generator)
    predicted = recursion.solve(solver, task, drawn, depth, steps, generator)
    return [float(((guess - truth) ** 2).mean()) for guess, truth in zip(predicted, exact)]
