"""Reason with your own optimizer: normalised gradient descent on a trained energy.

Defines ``NormalizedDescent`` by subclassing irem's ``DescentLoop`` (which handles
truncated backprop, recording and halting), puts it in front of a trained energy model and
compares it with the paper's gradient descent on the ``harder`` split.

    python examples/custom_optimizer.py --run runs/add      # any run of the irem solver

Without ``--run`` a small addition model is trained first into ``OUT``.
``IREM_SMOKE=1`` shrinks everything to seconds.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import attrs
import torch
from torch import Tensor

import irem_core as irem
from irem_core import DescentLoop, DescentOptions, DescentStep, EnergySolver, State

SMOKE = os.environ.get("IREM_SMOKE") == "1"


@attrs.define
class NormalizedDescentConfig(DescentOptions):
    """``step_size``: the first step's length per problem; ``decay``: its factor per step."""

    step_size: float = 0.5
    decay: float = 0.9


class NormalizedDescent(DescentLoop):
    """``y ← y − λ γᵗ g / ‖g‖``: each problem moves ``λ γᵗ`` along its own descent direction."""

    def update(self, at: DescentStep, state: State) -> tuple[Tensor, State]:
        """One step; ``‖g‖`` is per problem (over all its rows), ``(B,)``."""
        energy, gradient = at.energy, at.gradient
        norm = energy.per_problem((gradient**2).sum(-1)).sqrt()[energy.row_problem, None]
        length = self.options.step_size * self.options.decay**at.index
        return at.answer - length * gradient / (norm + 1e-12), state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="run directory of an irem solver")
    parser.add_argument("--out", type=Path, default=Path("runs/custom_optimizer"))
    args = parser.parse_args()
    if args.run is None:
        shrink = [
            "train.iterations=3",
            "train.batch_size=16",
            "train.replay_batch_size=16",
            "train.eval_every=0",
        ]
        config = irem.build_run_config(
            task="addition", preset="quick", overrides=shrink if SMOKE else []
        )
        irem.train(config, args.out, force=True, progress=not SMOKE)
    run = irem.load_run(args.run or args.out)

    solvers = {
        "gd (paper)": run.solver,
        "normalized": EnergySolver(
            run.solver.energy_model,
            NormalizedDescent(NormalizedDescentConfig()),
            run.solver.energy_name,
        ),
    }
    budgets = [10, 20, 40]
    problems = run.task.sample("harder", 64 if SMOKE else 1000, torch.Generator().manual_seed(0))
    title = f"MSE on {run.config.task.name} (harder)"
    print(f"{title:<24}" + "".join(f"{b:>9} steps" for b in budgets) + "   min-energy")
    for name, solver in solvers.items():
        result = irem.evaluate(
            solver, run.task, problems, budgets, torch.Generator().manual_seed(1), batch_size=1000
        )
        print(
            f"{name:<24}"
            + "".join(f"{result.mse[str(b)]:>15.5f}" for b in budgets)
            + f"{result.mse['min_energy']:>13.5f}"
        )


if __name__ == "__main__":
    main()
