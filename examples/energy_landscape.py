"""Plot the learned energy on a 2-D slice through one problem, with the optimisation path.

The slice is the plane through the true answer, the start ``y_0`` and the lowest-energy
iterate; the descent path is projected onto it. Writes ``OUT/energy_landscape.png`` (with
matplotlib's Agg renderer: no display needed).

    python examples/energy_landscape.py --run runs/add      # an irem run on a vector task

Without ``--run`` a small 3×3 addition model is trained first into ``OUT``.
``IREM_SMOKE=1`` shrinks everything to seconds.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from matplotlib.figure import Figure

import irem_core as irem

SMOKE = os.environ.get("IREM_SMOKE") == "1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="run directory of an irem solver on a vector task")
    parser.add_argument("--steps", type=int, default=40, help="optimisation steps (default: 40)")
    parser.add_argument("--out", type=Path, default=Path("runs/energy_landscape"))
    args = parser.parse_args()
    if args.run is None:
        shrink = [
            "train.iterations=3",
            "train.batch_size=16",
            "train.replay_batch_size=16",
            "train.eval_every=0",
        ]
        config = irem.build_run_config(
            task="addition", preset="quick", overrides=["task.size=3"] + (shrink if SMOKE else [])
        )
        irem.train(config, args.out, force=True, progress=not SMOKE)
    run = irem.load_run(args.run or args.out, device="cpu")
    args.out.mkdir(parents=True, exist_ok=True)
    model = run.solver.energy_model  # an irem solver on a vector task: one answer row per problem

    generator = torch.Generator().manual_seed(0)
    problems = run.task.sample("same", 1, generator)
    with torch.no_grad():
        trajectory = run.solver.solve(
            problems, run.task.init_answer(problems, generator), args.steps, record=True
        )
    path, target = trajectory.answers[:, 0], problems.target[0]  # (T + 1, F), (F,)
    best = path[trajectory.energies[:, 0].argmin()]
    # Orthonormal axes (F, 2) of the plane through the true answer, y_0 and the best iterate.
    axes, _ = torch.linalg.qr(torch.stack([path[0] - target, best - target], dim=1))
    xs, ys = ((torch.cat([path, best[None], target[None]]) - target) @ axes).T  # (T + 3,) each
    margin = 0.25 * float(max(xs.max() - xs.min(), ys.max() - ys.min()))
    grid = 15 if SMOKE else 81
    gx, gy = torch.meshgrid(
        torch.linspace(float(xs.min()) - margin, float(xs.max()) + margin, grid),
        torch.linspace(float(ys.min()) - margin, float(ys.max()) + margin, grid),
        indexing="xy",
    )
    answers = target + torch.stack([gx.flatten(), gy.flatten()], dim=1) @ axes.T  # (grid², F)
    with torch.no_grad():
        context = model.encode(problems.inputs.expand(grid * grid, -1))
        energies = model(context, answers).view(grid, grid)

    figure = Figure(figsize=(6, 5))
    axis = figure.subplots()
    filled = axis.contourf(gx, gy, energies, levels=30, cmap="viridis")
    figure.colorbar(filled, label="energy E(x, y)")
    for x, y, style, label in (
        (xs[:-2], ys[:-2], "w.-", "descent path"),
        (xs[0], ys[0], "o", "start y₀"),
        (0, 0, "kx", "true answer"),
        (xs[-2], ys[-2], "r*", "lowest-energy iterate"),
    ):
        axis.plot(x, y, style, label=label)
    axis.set(
        title=f"{run.config.task.name}: the learned energy on a 2-D slice",
        xlabel="first in-plane axis",
        ylabel="second in-plane axis",
    )
    axis.legend(loc="upper right", fontsize=8)
    figure.savefig(args.out / "energy_landscape.png", dpi=120)
    print(f"wrote {args.out / 'energy_landscape.png'}")


if __name__ == "__main__":
    main()
