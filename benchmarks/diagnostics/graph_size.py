"""Why a graph energy trained on small graphs does (not) generalise to bigger ones.

    python -m benchmarks.diagnostics.graph_size RUN [--sizes 5,10,15,20,25,30] [-n 200] [--json]
        [--step-scales 1,0.5,0.25]

For each size ``n`` it measures, on ``n``-node graphs of the run's task (the ``same``
distribution at that size):

- the targets: mean and variance of the labels (the zero predictor's MSE);
- the energy: mean energy at the start ``y0``, at the target ``y*`` and after 80 steps
  ``y_80``, and the share of graphs whose ``y*`` has a lower energy than their ``y_80`` (where
  it is small, the energy's minimum is not at the answer and longer descents drift);
- the gradient: RMS of ``∇_y E`` per edge at ``y0`` and at ``y*`` (with a fixed step size λ,
  the first step moves each edge by ``λ`` times this);
- the activations: mean absolute node feature after each GINE layer at ``y*`` (sum
  aggregation over ``n`` neighbours grows them with ``n``);
- the error: min-energy MSE and MSE after 10/20/40/80 steps, at the trained step size and at
  ``--step-scales`` times it (a size-dependent step size at test time).

Every number comes from the run's own solver; nothing is trained.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from irem_core.plugins.manager import load_plugins
from irem_core.reasoning.energy import BoundEnergy, energy_and_gradient
from irem_core.runs.evaluation import MIN_ENERGY
from irem_core.runs.load import TrainedRun, load_run
from irem_core.runs.sizes import evaluate_sizes, size_problems, size_starts

BUDGETS = [10, 20, 40, 80]
SEED = 0
"""The evaluation seed of every size's problems and starts (:mod:`irem_core.runs.sizes`)."""


def layer_activations(run: TrainedRun, context: Any, answer: torch.Tensor) -> list[float]:
    """Mean ``|h|`` after each convolution of a ``gine`` energy at ``answer`` (the output of
    each convolution's node network: ``gine`` writes the convolutions out and calls those)."""
    recorded: list[float] = []
    hooks = [
        convolution.nn.register_forward_hook(
            lambda module, inputs, output: recorded.append(float(output.abs().mean()))
        )
        for convolution in run.solver.energy_model.convolutions
    ]
    try:
        with torch.no_grad():
            run.solver.energy_model(context, answer)
    finally:
        for hook in hooks:
            hook.remove()
    return recorded


def diagnose(run: TrainedRun, size: int, count: int) -> dict[str, Any]:
    """The targets, energies, gradients and activations of the module docstring at one size,
    on the problems and starts :func:`~irem_core.runs.sizes.evaluate_sizes` evaluates."""
    task, problems = size_problems(run, size, count, SEED)
    y0 = task.init_answer(problems, size_starts(run, size, SEED))
    model = run.solver.energy_model
    context = model.encode(problems.inputs)
    energy = BoundEnergy(model, context, problems.row_problem, problems.num_problems, "diagnosis")
    stats: dict[str, Any] = {
        "n": size,
        "label_mean": float(problems.target.mean()),
        "label_variance": float(problems.target.var()),
    }
    for name, answer in (("start", y0), ("target", problems.target)):
        leaf = answer.detach().clone().requires_grad_(True)
        energies, gradient = energy_and_gradient(energy, leaf, create_graph=False)
        stats[f"energy_{name}"] = float(energies.detach().mean())
        stats[f"grad_rms_{name}"] = float(gradient.pow(2).mean().sqrt())
    at_target = energies.detach()  # the loop's last answer is the target
    descended = run.solver.solve(problems, y0, BUDGETS[-1]).answer.detach()
    with torch.no_grad():
        at_descended = energy(descended)
    stats["energy_descended"] = float(at_descended.mean())
    stats["target_below_descended"] = float((at_target < at_descended).double().mean())
    stats["activations_at_target"] = layer_activations(run, context, problems.target)
    return stats


def measure(
    run: TrainedRun, sizes: list[int], count: int, step_scales: list[float], directory: str
) -> list[dict[str, Any]]:
    """The measurements of the module docstring, one row per size: :func:`diagnose`, then the
    errors at each step-size scale (``mse``, keyed by the scale) and the zero predictor's."""
    base_step = run.config.solver.options.optimizer.options.step_size
    curves = {
        scale: evaluate_sizes(
            run
            if scale == 1
            else load_run(
                directory, str(run.device), [f"solver.optimizer.step_size={base_step * scale!r}"]
            ),
            sizes,
            BUDGETS,
            problems=count,
            seed=SEED,
        ).by_size()
        for scale in step_scales
    }
    rows = []
    for size in sizes:
        stats = diagnose(run, size, count)
        stats["mse"] = {
            str(scale): {key: curve[size].mse[key] for key in [*map(str, BUDGETS), MIN_ENERGY]}
            for scale, curve in curves.items()
        }
        if 1 in curves:
            stats["zero_predictor"] = curves[1][size].zero_predictor
        rows.append(stats)
    return rows


def plot(reports: dict[str, list[dict[str, Any]]], path: str, budget: str = MIN_ENERGY) -> None:
    """Min-energy MSE against graph size for each labelled report (``sizes`` lists), with
    the zero predictor of the first and the paper's shortest-path points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for label, rows in reports.items():
        axis.plot(
            [row["n"] for row in rows],
            [row["mse"]["1.0"][budget] for row in rows],
            marker="o",
            label=label,
        )
    first = next(iter(reports.values()))
    axis.plot(
        [row["n"] for row in first],
        [row["zero_predictor"] for row in first],
        color="grey",
        linestyle=":",
        label="zero predictor",
    )
    paper = load_plugins().get("task", "shortest_path").meta.paper["size_curves"]["irem"]
    axis.plot(
        list(paper),
        list(paper.values()),
        color="black",
        linestyle="--",
        marker="x",
        label="IREM (paper, shortest path)",
    )
    axis.set(xlabel="nodes n (trained on 2..10)", ylabel=f"MSE ({budget})", yscale="log")
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.diagnostics.graph_size", description=__doc__.splitlines()[0]
    )
    parser.add_argument("run", nargs="?", help="run directory of a graph task with a gine energy")
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="JSON",
        help="plot reports (this script's --json output, or benchmark curves "
        "holding 'sizes') together instead of measuring",
    )
    parser.add_argument("--plot", default="sizes.png", help="with --compare: the PNG to write")
    parser.add_argument("--sizes", default="5,10,15,20,25,30", help="graph sizes")
    parser.add_argument("-n", "--problems", type=int, default=200, help="graphs per size")
    parser.add_argument(
        "--step-scales", default="1", help="step-size multipliers to try at test time"
    )
    parser.add_argument("--device", help="torch device (default: the run's)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if args.compare:
        plot(
            {Path(name).stem: json.loads(Path(name).read_text())["sizes"] for name in args.compare},
            args.plot,
        )
        return 0
    if args.run is None:
        parser.error("give a run directory, or --compare JSON ...")
    run = load_run(args.run, args.device)
    scales = [float(value) for value in args.step_scales.split(",")]
    rows = measure(
        run, [int(size) for size in args.sizes.split(",")], args.problems, scales, args.run
    )
    if args.json:
        print(json.dumps({"run": args.run, "iteration": run.iteration, "sizes": rows}, indent=1))
        return 0
    print(
        f"{'n':>3} {'var(y*)':>8} {'E(y0)':>9} {'E(y*)':>9} {'E(y_80)':>9} {'y*<y_80':>7} "
        f"{'|g|(y0)':>9} {'|g|(y*)':>9} "
        f"{'|h| layers at y*':>24} {'zero':>7} " + " ".join(f"{'x' + str(s):>22}" for s in scales)
    )
    for row in rows:
        errors = " ".join(
            f"{row['mse'][str(s)]['10']:.3f}/{row['mse'][str(s)]['80']:.3f}/"
            f"{row['mse'][str(s)][MIN_ENERGY]:.3f}".rjust(22)
            for s in scales
        )
        layers = "/".join(f"{value:.3g}" for value in row["activations_at_target"])
        print(
            f"{row['n']:>3} {row['label_variance']:8.4f} {row['energy_start']:9.3g} "
            f"{row['energy_target']:9.3g} {row['energy_descended']:9.3g} "
            f"{row['target_below_descended']:7.2f} "
            f"{row['grad_rms_start']:9.3g} {row['grad_rms_target']:9.3g} "
            f"{layers:>24} {row['zero_predictor']:7.3f} {errors}"
        )
    print("errors: MSE at 10 / 80 steps / min energy, per step-size scale")
    return 0


if __name__ == "__main__":
    sys.exit(main())
