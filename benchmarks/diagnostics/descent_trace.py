"""Step by step through a trained run's descent on graphs of each size: does it overshoot?

    python -m benchmarks.diagnostics.descent_trace RUN [--sizes 10,20,30] [-n 50] [--steps 40]
        [--show 0,1,2,3,5,10,20,40] [--set KEY=VALUE ...]

For each size ``n`` it solves ``n``-node problems of the run's task (the ``same``
distribution at that size) with the run's own solver (``--set`` overrides its config, e.g.
``solver.optimizer.name=linesearch``) and prints, at the listed steps ``t``: the mean energy
``E(y_t)``, the share of problems whose energy rose in step ``t`` (a descent that raises its
energy took too large a step), the RMS and the largest ``|y_t|`` (labels of connected
components lie in [0, 1]) and the MSE. Nothing is trained.
"""

from __future__ import annotations

import argparse
import sys

import torch

from irem_core.plugins.manager import load_plugins
from irem_core.runs.build import sized_task
from irem_core.runs.load import TrainedRun, load_run
from irem_core.seeding import generator as seeded_generator


def trace(run: TrainedRun, size: int, count: int, steps: int) -> list[dict]:
    """One row per step ``0..steps`` of ``run``'s descent on ``count`` problems of ``size``."""
    task = sized_task(run.config.task, size, plugins=load_plugins())
    problems = task.sample("same", count, seeded_generator(0, f"problems:size:{size}", run.device))
    y0 = task.init_answer(problems, seeded_generator(0, f"starts:size:{size}", run.device))
    trajectory = run.solver.solve(problems, y0, steps, record=True)
    if trajectory.answers is None or trajectory.energies is None:
        raise SystemExit("the run's solver records no energies; nothing to trace")
    answers, energies = trajectory.answers.detach(), trajectory.energies.detach()
    rows = []
    for step in range(steps + 1):
        answer = answers[step]
        rose = energies[step] > energies[step - 1] if step else torch.zeros_like(energies[0])
        rows.append(
            {
                "step": step,
                "energy": float(energies[step].mean()),
                "rose": float(rose.double().mean()),
                "rms": float(answer.pow(2).mean().sqrt()),
                "largest": float(answer.abs().max()),
                "mse": float((answer - problems.target).pow(2).mean()),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.diagnostics.descent_trace", description=__doc__.splitlines()[0]
    )
    parser.add_argument("run", help="run directory of an energy-based solver on a sized task")
    parser.add_argument("--sizes", default="10,20,30", help="problem sizes")
    parser.add_argument("-n", "--problems", type=int, default=50, help="problems per size")
    parser.add_argument("--steps", type=int, default=40, help="steps of the descent")
    parser.add_argument("--show", default="0,1,2,3,5,10,20,40", help="steps to print")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config override"
    )
    args = parser.parse_args(argv)
    shown = {int(step) for step in args.show.split(",")}
    run = load_run(args.run, overrides=args.set)
    print("| n | step | mean E | share with E rising | RMS y | max abs y | MSE |")
    print("|---|---|---|---|---|---|---|")
    for size in (int(value) for value in args.sizes.split(",")):
        for row in trace(run, size, args.problems, args.steps):
            if row["step"] in shown:
                print(
                    f"| {size} | {row['step']} | {row['energy']:.3f} | {row['rose']:.2f} | "
                    f"{row['rms']:.3f} | {row['largest']:.2f} | {row['mse']:.4f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
