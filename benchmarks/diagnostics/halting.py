"""Which halting rule makes harder problems take more steps, at no cost in error?

    python -m benchmarks.diagnostics.halting RUN [RUN ...] [-n 256] [--steps T]
        [--tolerances 1e-4,1e-3,1e-2] [--json OUT]

For each run it solves ``n`` problems of ``same`` and of ``harder`` once with the full
budget (the run's largest ``eval.steps`` unless ``--steps``), records every iterate and its
energy, and replays each halting rule on the record, as ``irem eval --halt`` would run it:
a problem stops at the first step ``t ≥ 1`` where the rule holds and answers with its
lowest-energy iterate among ``0..t``. Rules (``E_t`` a problem's energy at step ``t``):

- ``absolute``: ``E_{t−1} − E_t < tol``;
- ``relative``: ``E_{t−1} − E_t < tol · (E_0 − E_t)``, the last step's decrease against
  the descent so far (unchanged by scaling or shifting the energy);
- ``progress``: ``B_{t−w} − B_t < tol · (E_0 − B_t)`` with ``B_t = min_{s ≤ t} E_s``, the
  lowest energy so far, at ``t ≥ w``: the last ``w`` steps improved the best answer by
  less than ``tol`` of the descent so far (a single rising step does not stop it).

Printed per run, split, rule and tolerance: mean steps, and the min-energy MSE over the
fixed budget's. Nothing is trained.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import Any

import torch
from torch import Tensor

from irem_core.runs.load import TrainedRun, load_run
from irem_core.seeding import generator as seeded_generator

RULES = ("absolute", "relative", "progress")


def record(run: TrainedRun, split: str, count: int, steps: int) -> tuple[Tensor, Tensor]:
    """Energies ``(T + 1, B)`` and per-problem squared error ``(T + 1, B)`` of every
    iterate of ``count`` problems of ``split`` (seed 0)."""
    task = run.task
    problems = task.sample(split, count, seeded_generator(0, f"problems:{split}", run.device))
    y0 = task.init_answer(problems, seeded_generator(0, "starts", run.device))
    trajectory = run.solver.solve(problems, y0, steps, record=True)
    if trajectory.answers is None or trajectory.energies is None:
        raise SystemExit(f"{run.config.solver.name}: the solver records no energies")
    squared = (trajectory.answers.detach() - problems.target).pow(2).sum(-1)  # (T + 1, rows)
    errors = torch.zeros(steps + 1, problems.num_problems, dtype=torch.float64)
    errors.index_add_(1, problems.row_problem, squared.double())
    elements = problems.target.shape[0] * problems.target.shape[1]
    return trajectory.energies.detach().double(), errors * problems.num_problems / elements


def halting_steps(energies: Tensor, rule: str, tolerance: float, window: int = 1) -> Tensor:
    """Each problem's halting step ``(B,)`` under ``rule`` (the budget where it never holds)."""
    budget = energies.shape[0] - 1
    if rule == "progress":
        best = torch.cummin(torch.nan_to_num(energies, nan=torch.inf), dim=0).values
        holds = best[:-window] - best[window:] < tolerance * (energies[:1] - best[window:])
    else:
        decrease = energies[:-window] - energies[window:]  # row t − w: step t's decrease
        scale = 1.0 if rule == "absolute" else energies[:1] - energies[window:]
        holds = decrease < tolerance * scale
    return torch.where(holds.any(0), holds.double().argmax(0) + window, budget)


def min_energy_errors(energies: Tensor, errors: Tensor, stops: Tensor) -> Tensor:
    """Per-problem error of the lowest-energy iterate among ``0..stops[b]`` ``(B,)``."""
    steps = torch.arange(energies.shape[0]).unsqueeze(1)
    masked = torch.where(steps <= stops, torch.nan_to_num(energies, nan=torch.inf), torch.inf)
    best = masked.argmin(0)
    return errors.gather(0, best.unsqueeze(0)).squeeze(0)


def study(
    run_dir: str, count: int, steps: int | None, tolerances: list[float], windows: list[int]
) -> dict[str, Any]:
    """The table of one run: fixed budget and each rule and tolerance, per split."""
    run = load_run(run_dir)
    budget = steps or max(run.config.eval.steps)
    table: dict[str, Any] = {"run": run_dir, "budget": budget, "splits": {}}
    for split in ("same", "harder"):
        energies, errors = record(run, split, count, budget)
        fixed = float(min_energy_errors(energies, errors, torch.full((count,), budget)).mean())
        rows = {"fixed": {"mean_steps": float(budget), "mse": fixed}}
        for rule, window, tolerance in itertools.product(RULES, windows, tolerances):
            stops = halting_steps(energies, rule, tolerance, window)
            mse = float(min_energy_errors(energies, errors, stops).mean())
            rows[f"{rule}:{window}:{tolerance:g}"] = {
                "mean_steps": float(stops.double().mean()),
                "mse": mse,
                "mse_over_fixed": mse / fixed if fixed else float("nan"),
            }
        table["splits"][split] = rows
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.diagnostics.halting", description=__doc__.splitlines()[0]
    )
    parser.add_argument("runs", nargs="+", help="run directories of energy-based solvers")
    parser.add_argument("-n", "--problems", type=int, default=256, help="problems per split")
    parser.add_argument("--steps", type=int, help="the budget (default: the run's largest)")
    parser.add_argument("--tolerances", default="1e-4,1e-3,3e-3,1e-2,3e-2,1e-1")
    parser.add_argument("--windows", default="1,2,3", help="windows w of the rules")
    parser.add_argument("--json", help="also write the tables to this JSON file")
    args = parser.parse_args(argv)
    tolerances = [float(value) for value in args.tolerances.split(",")]
    tables = []
    for run_dir in args.runs:
        windows = [int(value) for value in args.windows.split(",")]
        table = study(run_dir, args.problems, args.steps, tolerances, windows)
        tables.append(table)
        print(f"{run_dir} (budget {table['budget']}, {args.problems} problems per split)")
        same, harder = table["splits"]["same"], table["splits"]["harder"]
        print(
            f"  {'rule:window:tol':<22} {'steps same':>10} {'harder':>8} {'mse/fixed same':>15} {'harder':>8}"
        )
        for key in same:
            ratio = [row[key].get("mse_over_fixed", 1.0) for row in (same, harder)]
            print(
                f"  {key:<22} {same[key]['mean_steps']:>10.2f} {harder[key]['mean_steps']:>8.2f}"
                f" {ratio[0]:>15.4f} {ratio[1]:>8.4f}"
            )
        sys.stdout.flush()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(tables, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
