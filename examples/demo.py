"""Train IREM on matrix addition (quick preset) and show it reasoning with more steps.

Prints the MSE on the ``same`` and ``harder`` splits at 10/20/40/80 steps and at each
problem's minimum-energy answer, and writes a plot of error against steps.

    python examples/demo.py [--out runs/demo] [--task addition] [--preset quick]

Set ``IREM_SMOKE=1`` for a seconds-long smoke run (used by the tests).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

import irem_core as irem

SMOKE = os.environ.get("IREM_SMOKE") == "1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="run directory")
    parser.add_argument("--task", default="addition", help="task to train on")
    parser.add_argument("--preset", default="quick", help="the task's preset")
    args = parser.parse_args()

    overrides = (
        [
            "train.iterations=5",
            "train.batch_size=32",
            "train.replay_batch_size=32",
            "eval.problems=32",
        ]
        if SMOKE
        else []
    )
    config = irem.build_run_config(task=args.task, preset=args.preset, overrides=overrides)
    started = time.perf_counter()
    summary = irem.train(config, args.out, force=True)
    print(f"trained {summary.iterations} iterations in {summary.wall_seconds:.0f} s")

    run = irem.load_run(args.out)
    budgets = run.config.eval.steps
    results = {}
    for split in ("same", "harder"):
        generator = torch.Generator().manual_seed(1234)
        problems = run.task.sample(split, run.config.eval.problems, generator)
        results[split] = irem.evaluate(
            run.solver, run.task, problems, budgets, generator, run.config.eval.batch_size
        )

    columns = [str(b) for b in budgets] + ["min_energy"]
    print(
        f"\nMSE of IREM on {args.task} ({run.config.task.options.size}x"
        f"{run.config.task.options.size}, {run.config.eval.problems} problems per split)"
    )
    print(
        f"{'split':<8}"
        + "".join(f"{c + ' steps' if c.isdigit() else 'min-energy':>12}" for c in columns)
        + f"{'zero pred.':>12}"
    )
    for split, result in results.items():
        print(
            f"{split:<8}"
            + "".join(f"{result.mse[c]:>12.6f}" for c in columns)
            + f"{result.zero_predictor:>12.4f}"
        )

    plot_path = args.out / "error_vs_steps.png"
    plot(results, plot_path)
    print(f"\nplot: {plot_path}; total wall time {time.perf_counter() - started:.0f} s")


def plot(results: dict[str, irem.Evaluation], path: Path) -> None:
    """MSE of every iterate against its step, one line per split, min-energy dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for (split, result), colour in zip(results.items(), ("tab:blue", "tab:red")):
        axis.plot(range(len(result.curve)), result.curve, color=colour, label=f"{split}")
        axis.axhline(
            result.mse["min_energy"],
            color=colour,
            linestyle="--",
            label=f"{split}, min-energy answer",
        )
    axis.set(
        xlabel="optimisation steps",
        ylabel="MSE",
        yscale="log",
        title="IREM: error against reasoning steps",
    )
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
