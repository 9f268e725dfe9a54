"""Answering new problems with a trained run or any solver: :func:`solve`."""

from __future__ import annotations

import torch
from torch import Tensor

from irem_core.reasoning.protocols import Problems, Solver, Task
from irem_core.runs.evaluation import select_min_energy
from irem_core.runs.load import TrainedRun
from irem_core.seeding import generator as seeded_generator
from irem_core.training.precision import autocast, check_precision, resolve_precision


def solve(
    run_or_solver: TrainedRun | Solver,
    problems: Problems,
    steps: int,
    *,
    task: Task | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    precision: str = "fp32",
) -> Tensor:
    """Answer ``problems`` within ``steps`` steps: each problem's lowest-energy iterate.

    Solvers without an energy (the baselines) answer with their final iterate. The targets
    in ``problems`` are not used, so problems whose answers are unknown may carry zeros
    there. Runs without building a graph for parameter gradients::

        run = irem.load_run("runs/add")
        problems = run.task.from_tensors({"x": x, "y": torch.zeros(len(x), run.task.answer_features)})
        answers = irem.solve(run, problems, 80)

    Args:
        run_or_solver: a run from :func:`irem_core.load_run`, or a bare solver (then
            ``task`` is required: it draws the starting answers).
        problems: the problems, on the solver's device.
        steps: the step budget ``T``.
        task: the problems' task; default: the run's.
        seed: seeds the starting answers ``y_0`` (the stream ``starts`` of this seed, see
            :mod:`irem_core.seeding`).
        batch_size: problems solved at once (default: all); each chunk keeps its ``T + 1``
            iterates in memory.
        precision: ``fp32``, ``bf16`` (autocast, where the device multiplies bf16 natively)
            or ``auto`` (bf16 where native); fp32 by default, the most accurate
            (docs/performance.md).

    Returns:
        Answers, shape ``(rows, F)``: one row per problem for vector tasks, one per edge for
        graph tasks, in the rows' order of ``problems``.
    """
    if isinstance(run_or_solver, TrainedRun):
        solver, task = run_or_solver.solver, task or run_or_solver.task
    elif task is None:
        raise TypeError("solve(solver, ...) needs task=: the task draws the starting answers")
    else:
        solver = run_or_solver
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    device = problems.target.device
    precision = resolve_precision(precision, device)
    check_precision(precision, device, "precision")
    generator = seeded_generator(seed, "starts", device)
    with autocast(precision, device):
        if batch_size is None or batch_size >= problems.num_problems:
            return _solve_batch(solver, task, problems, steps, generator)
        packed = task.pack(problems, problems.target)  # the answer slot is unused here
        answers = []
        for start in range(0, problems.num_problems, batch_size):
            chunk, _ = task.unpack(
                {key: value[start : start + batch_size] for key, value in packed.items()}
            )
            answers.append(_solve_batch(solver, task, chunk, steps, generator))
    return torch.cat(answers)


def _solve_batch(
    solver: Solver, task: Task, problems: Problems, steps: int, generator: torch.Generator
) -> Tensor:
    """Min-energy (or final) answers ``(rows, F)`` of one batch."""
    y0 = task.init_answer(problems, generator)
    with torch.no_grad():
        trajectory = solver.solve(problems, y0, steps, record=True, generator=generator)
    if trajectory.energies is None or trajectory.answers is None:
        return trajectory.answer.detach()
    return select_min_energy(trajectory.answers, trajectory.energies, problems.row_problem)
