"""Evaluation shared by every solver: error at each step budget and at the min-energy answer."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import torch
from torch import Tensor

from irem_core.reasoning.protocols import Problems, ScoringTask, Solver, Task

MIN_ENERGY = "min_energy"


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
        mean_predictor: MSE of answering every entry with the mean of all evaluated targets:
            their variance, the best any constant answer can do (where targets shrink with
            the problem's size, as shortest-path distances do, the fairer reference).
        metrics: the task's own scores (``Task.score``, if it has one), averaged over
            answer rows, as ``{metric: {budget key: value}}``.
        nonfinite_problems: problems whose answers or energies became NaN/Inf; they are
            excluded from every figure above.
        steps_used: steps the solver took per problem: ``mean``, ``p50`` and ``p95``
            (below the budget only when the solver halts problems early).
        energy_evaluations: energy evaluations the solver reported in total (``None`` for
            solvers that do not count them).
    """

    num_problems: int
    mse: dict[str, float]
    curve: list[float]
    zero_predictor: float
    mean_predictor: float
    metrics: dict[str, dict[str, float]]
    nonfinite_problems: int
    steps_used: dict[str, float]
    energy_evaluations: int | None

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


class _Totals:
    """Running sums over chunks (float64 on the host)."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.rows = 0
        self.elements = 0
        self.nonfinite = 0
        self.steps_used: list[Tensor] = []
        self.energy_evaluations: int | None = None

    def add(self, key: str, value: Tensor) -> None:
        value = value.detach().double().cpu()
        self.sums[key] = self.sums[key] + value if key in self.sums else value


def _solve_chunk(
    solver: Solver,
    task: Task,
    problems: Problems,
    budgets: list[int],
    generator: torch.Generator,
    totals: _Totals,
) -> None:
    y0 = task.init_answer(problems, generator)
    with torch.no_grad():
        trajectory = solver.solve(problems, y0, max(budgets), record=True, generator=generator)
    answers = trajectory.answers
    if answers is None:
        raise ValueError(f"{type(solver).__name__}.solve ignored record=True: no iterates returned")
    squared_errors = (answers - problems.target) ** 2
    bad_rows = ~squared_errors.isfinite().all(dim=0).all(dim=-1)
    bad = (
        torch.zeros(problems.num_problems, device=answers.device).index_add_(
            0, problems.row_problem, bad_rows.float()
        )
        > 0
    )
    if trajectory.energies is not None:
        bad |= ~trajectory.energies.isfinite().all(dim=0)
        selected = select_min_energy(answers, trajectory.energies, problems.row_problem)
    else:
        selected = answers[-1]
    keep = ~bad[problems.row_problem]
    target = problems.target[keep]
    totals.add("curve", squared_errors[:, keep].sum(dim=(1, 2)))
    totals.add(MIN_ENERGY, ((selected[keep] - target) ** 2).sum())
    totals.add("zero", (target**2).sum())
    totals.add("target", target.sum())
    if isinstance(task, ScoringTask):
        chosen = {str(budget): answers[budget] for budget in budgets}
        chosen[MIN_ENERGY] = selected
        for key, answer in chosen.items():
            for name, per_row in task.score(answer, problems).items():
                totals.add(f"metric:{name}:{key}", per_row[keep].sum())
    totals.steps_used.append(trajectory.steps_used.detach().cpu())
    if "energy_evaluations" in trajectory.extras:
        totals.energy_evaluations = (totals.energy_evaluations or 0) + int(
            trajectory.extras["energy_evaluations"]
        )
    totals.rows += int(keep.sum())
    totals.elements += target.numel()
    totals.nonfinite += int(bad.sum())


def evaluate(
    solver: Solver,
    task: Task,
    problems: Problems,
    budgets: list[int],
    generator: torch.Generator,
    batch_size: int,
) -> Evaluation:
    """Run ``solver`` to ``max(budgets)`` steps on ``problems`` in chunks of ``batch_size``.

    Starts ``y0`` are drawn from ``generator``. Problems are split into chunks with the
    task's ``pack``/``unpack``.
    """
    budgets = sorted(set(budgets))
    totals = _Totals()
    packed = task.pack(problems, problems.target)  # the answer slot is unused here
    for start in range(0, problems.num_problems, batch_size):
        chunk, _ = task.unpack(
            {key: value[start : start + batch_size] for key, value in packed.items()}
        )
        _solve_chunk(solver, task, chunk, budgets, generator, totals)
    # with every problem excluded as non-finite, the figures are NaN, not a misleading 0
    elements, rows = totals.elements or math.nan, totals.rows or math.nan
    curve = (totals.sums["curve"] / elements).tolist()
    mse = {str(budget): curve[budget] for budget in budgets}
    mse[MIN_ENERGY] = float(totals.sums[MIN_ENERGY]) / elements
    metrics: dict[str, dict[str, float]] = {}
    for key, value in totals.sums.items():
        if key.startswith("metric:"):
            _, name, budget = key.split(":")
            metrics.setdefault(name, {})[budget] = float(value) / rows
    zero = float(totals.sums["zero"]) / elements
    target_mean = float(totals.sums["target"]) / elements
    steps_used = torch.cat(totals.steps_used).double()
    quantiles = torch.quantile(steps_used, torch.tensor([0.5, 0.95], dtype=torch.float64)).tolist()
    return Evaluation(
        problems.num_problems,
        mse,
        curve,
        zero,
        max(0.0, zero - target_mean**2),
        metrics,
        totals.nonfinite,
        {"mean": float(steps_used.mean()), "p50": quantiles[0], "p95": quantiles[1]},
        totals.energy_evaluations,
    )


def json_bytes(data: Any) -> bytes:
    """``data`` as indented JSON, non-finite floats written as ``null`` (strict JSON)."""

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        if isinstance(value, list):
            return [finite(item) for item in value]
        return value

    return json.dumps(finite(data), indent=1, allow_nan=False).encode()
