"""Nested reasoning: compose a trained solver's answers to solve bigger problems.

Both strategies feed predicted answers back as inputs, so errors compound and inputs drift
out of the training range, as in the paper's nested-addition experiment.
"""

from __future__ import annotations

from typing import cast

import attrs
import torch
from torch import Tensor

from irem_core.reasoning.protocols import NestableTask, Solver, Task
from irem_core.runs.evaluation import select_min_energy


@attrs.define
class RecursionOptions:
    """Options of ``fold`` and ``repeat``.

    Attributes:
        min_energy: answer each sub-problem with its lowest-energy iterate (when the solver
            has an energy) rather than its last.
    """

    min_energy: bool = True


def solve_once(
    solver: Solver,
    task: Task,
    operands: list[Tensor],
    steps: int,
    generator: torch.Generator,
    min_energy: bool,
) -> Tensor:
    """The solver's answer ``(N, F)`` to one operation on ``operands`` (``(N, F)`` each) of a
    :class:`~irem_core.reasoning.protocols.NestableTask`."""
    problems = cast(NestableTask, task).from_operands(operands)
    y0 = task.init_answer(problems, generator)
    with torch.no_grad():
        trajectory = solver.solve(problems, y0, steps, record=min_energy, generator=generator)
    if min_energy and trajectory.energies is not None:
        assert trajectory.answers is not None  # energies are only recorded with the iterates
        return select_min_energy(trajectory.answers, trajectory.energies, problems.row_problem)
    return trajectory.answer.detach()


class Fold:
    """``S₁ = f(A₁, A₂)``, ``S_k = f(S_{k−1}, A_{k+1})`` with a learned binary operation ``f``.

    Args:
        options: :class:`RecursionOptions`.
    """

    arity = 2

    def __init__(self, options: RecursionOptions) -> None:
        self.options = options

    def solve(
        self,
        solver: Solver,
        task: Task,
        operands: list[Tensor],
        depth: int,
        steps: int,
        generator: torch.Generator,
    ) -> list[Tensor]:
        """The running result after each of ``depth`` operations on ``depth + 1`` operands."""
        results, current = [], operands[0]
        for operand in operands[1 : depth + 1]:
            current = solve_once(
                solver, task, [current, operand], steps, generator, self.options.min_energy
            )
            results.append(current)
        return results


class Repeat:
    """``S₁ = f(A)``, ``S_k = f(S_{k−1})`` with a learned unary operation ``f``
    (e.g. the inverse of the inverse ...).

    Args:
        options: :class:`RecursionOptions`.
    """

    arity = 1

    def __init__(self, options: RecursionOptions) -> None:
        self.options = options

    def solve(
        self,
        solver: Solver,
        task: Task,
        operands: list[Tensor],
        depth: int,
        steps: int,
        generator: torch.Generator,
    ) -> list[Tensor]:
        """The result after each of ``depth`` applications to ``operands[0]``."""
        results, current = [], operands[0]
        for _ in range(depth):
            current = solve_once(solver, task, [current], steps, generator, self.options.min_energy)
            results.append(current)
        return results
