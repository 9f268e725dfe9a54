"""Evaluation shared by every solver: error at each step budget and at the min-energy answer."""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import Tensor

from irem_core.protocols import Problems, Solver, Task


@attrs.frozen
class Evaluation:
    """Errors of one solver on one problem set.

    Attributes:
        num_problems: problems evaluated.
        mse: element-wise MSE keyed by step budget (``"10"``, ``"20"``...) and
            ``"min_energy"`` (each problem's lowest-energy iterate; the final iterate for
            solvers without an energy).
        curve: MSE of iterate ``t`` for ``t = 0 .. max budget``.
        zero_predictor: MSE of answering all zeros, the trivial reference.
        nonfinite_problems: problems whose answers or energies became NaN/Inf; they are
            excluded from every figure above.
    """

    num_problems: int
    mse: dict[str, float]
    curve: list[float]
    zero_predictor: float
    nonfinite_problems: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return attrs.asdict(self)


def select_min_energy(answers: Tensor, energies: Tensor, row_problem: Tensor) -> Tensor:
    """Each problem's lowest-energy iterate.

    Args:
        answers: iterates, ``(T + 1, rows, F)``.
        energies: their energies, ``(T + 1, B)``; NaN counts as +inf.
        row_problem: problem of each row, ``(rows,)``.

    Returns:
        The selected answers, ``(rows, F)``.
    """
    best_step = torch.nan_to_num(energies, nan=torch.inf).argmin(dim=0)
    rows = torch.arange(answers.shape[1], device=answers.device)
    return answers[best_step[row_problem], rows]


def _solve_chunk(solver: Solver, task: Task, problems: Problems, steps: int,
                 generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Squared-error sums ``(T + 1,)`` per iterate and at min energy, and finite mask ``(B,)``."""
    y0 = task.init_answer(problems, generator)
    with torch.no_grad():
        trajectory = solver.solve(problems, y0, steps, record=True)
    answers = trajectory.answers
    if answers is None:
        raise ValueError(f"{type(solver).__name__}.solve ignored record=True: no iterates returned")
    bad_rows = ~answers.isfinite().all(dim=0).all(dim=-1)
    bad = torch.zeros(problems.num_problems, device=answers.device).index_add_(
        0, problems.row_problem, bad_rows.float()) > 0
    finite = ~bad
    if trajectory.energies is not None:
        finite &= trajectory.energies.isfinite().all(dim=0)
        selected = select_min_energy(answers, trajectory.energies, problems.row_problem)
    else:
        selected = answers[-1]
    keep = finite[problems.row_problem]
    target = problems.target[keep]
    per_step = ((answers[:, keep] - target) ** 2).sum(dim=(1, 2))
    at_min = ((selected[keep] - target) ** 2).sum()
    return torch.cat([per_step, at_min[None]]), (target ** 2).sum(), finite


def evaluate(solver: Solver, task: Task, problems: Problems, budgets: list[int],
             generator: torch.Generator, batch_size: int) -> Evaluation:
    """Run ``solver`` to ``max(budgets)`` steps on ``problems`` in chunks of ``batch_size``.

    ``problems`` is split by problem index; starts are drawn from ``generator``.
    """
    steps = max(budgets)
    totals = torch.zeros(steps + 2, dtype=torch.float64)
    zero_total = torch.zeros((), dtype=torch.float64)
    elements, nonfinite = 0, 0
    packed = task.pack(problems, problems.target)  # the answer slot is unused here
    for start in range(0, problems.num_problems, batch_size):
        chunk, _ = task.unpack({k: v[start:start + batch_size] for k, v in packed.items()})
        sums, zero_sum, finite = _solve_chunk(solver, task, chunk, steps, generator)
        totals += sums.double().cpu()
        zero_total += zero_sum.double().cpu()
        kept_rows = finite[chunk.row_problem]
        elements += int(kept_rows.sum()) * chunk.target.shape[-1]
        nonfinite += int((~finite).sum())
    mean = (totals / max(elements, 1)).tolist()
    mse = {str(budget): mean[budget] for budget in sorted(budgets)}
    mse["min_energy"] = mean[-1]
    return Evaluation(problems.num_problems, mse, mean[:-1], float(zero_total) / max(elements, 1),
                      nonfinite)
