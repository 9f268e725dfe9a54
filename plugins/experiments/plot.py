"""``irem plot RUN``: a run's training curves and its error against reasoning steps, as PNG.

``training.png`` draws the training loss and the periodic validation MSE (``train.eval_every``)
against iterations from ``metrics.jsonl``; ``error_vs_steps.png`` evaluates the run on fresh
problems of a split and draws the MSE of every iterate, with the zero predictor's MSE and a
marker at the step count the solver was trained with; ``--sizes`` adds ``size_curve.png``
for tasks with a size option (graph nodes), one point per integer size.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from irem_core.config.schema import unstructure
from irem_core.errors import IremError
from irem_core.runs.evaluation import MIN_ENERGY, Evaluation, evaluate
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.reasoning.protocols import SPLITS
from irem_core.runs.build import TrainedRun, load_run, sized_task
from irem_core.seeding import generator as seeded_generator
from irem_plugins.experiments.reproduce import positive_sizes

METRICS_FILE = "metrics.jsonl"


def read_metrics(directory: Path) -> list[dict[str, Any]]:
    """The records of ``directory/metrics.jsonl``; a cut-off last line is skipped."""
    path = directory / METRICS_FILE
    if not path.is_file():
        raise IremError(
            f"{directory} has no {METRICS_FILE}; is it a run directory written by 'irem train'?"
        )
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise IremError("irem plot needs matplotlib: pip install 'irem[plot]'") from None
    return plt


def title(axis: Any, run: TrainedRun, what: str) -> None:
    """``solver on task: what`` above ``axis``, the task's options in small print below it."""
    options = unstructure(run.config.task)
    options.pop("name", None)
    shown = ", ".join(
        f"{key} {value}"
        for key, value in options.items()
        if not isinstance(value, (dict, list)) and value is not None
    )
    axis.set_title(
        f"{run.config.solver.name} on {run.config.task.name}: {what}\n{shown}", fontsize="medium"
    )


def plot_training(plt: Any, run: TrainedRun, metrics: list[dict[str, Any]], path: Path) -> None:
    """Loss and periodic validation MSE against iterations."""
    figure, loss_axis = plt.subplots(figsize=(8, 4))
    trained = [record for record in metrics if "loss" in record]
    loss_axis.plot(
        [record["iteration"] for record in trained],
        [record["loss"] for record in trained],
        color="tab:blue",
        label="training loss",
    )
    loss_axis.set(xlabel="iteration", ylabel="training loss", yscale="log")
    validated = [record for record in metrics if "eval_same_mse" in record]
    if validated:
        validation_axis = loss_axis.twinx()
        validation_axis.plot(
            [record["iteration"] for record in validated],
            [record["eval_same_mse"][MIN_ENERGY] for record in validated],
            color="tab:orange",
            marker="o",
            label="validation MSE",
        )
        validation_axis.set(ylabel="validation MSE (final answer)", yscale="log")
        validation_axis.legend(loc="upper right", fontsize="small")
    loss_axis.legend(loc="upper left", fontsize="small")
    title(loss_axis, run, "training")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_steps(plt: Any, run: TrainedRun, result: Evaluation, split: str, path: Path) -> None:
    """MSE of every iterate ``t = 0..T`` with the zero predictor and the training budget."""
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.plot(range(len(result.curve)), result.curve, label=f"{run.config.solver.name} iterate")
    axis.axhline(result.zero_predictor, color="grey", linestyle=":", label="zero predictor")
    axis.axvline(
        run.config.train.steps,
        color="tab:red",
        linestyle="--",
        label=f"trained with {run.config.train.steps} steps",
    )
    axis.set(xlabel="step", ylabel="MSE", yscale="log")
    title(axis, run, f"{split}, n={result.num_problems}, iteration {run.iteration}")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_sizes(plt: Any, run: TrainedRun, results: dict[int, Evaluation], path: Path) -> None:
    """Final-answer MSE and the zero and mean predictors' against integer problem sizes."""
    sizes = sorted(results)
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.plot(
        sizes,
        [results[size].mse[MIN_ENERGY] for size in sizes],
        marker="o",
        label=f"{run.config.solver.name} (final answer)",
    )
    for reference, linestyle in (("zero", ":"), ("mean", "--")):
        axis.plot(
            sizes,
            [getattr(results[size], f"{reference}_predictor") for size in sizes],
            color="grey",
            linestyle=linestyle,
            marker=".",
            label=f"{reference} predictor",
        )
    axis.set_xticks(sizes)
    axis.set(xlabel="size", ylabel="MSE", yscale="log")
    title(axis, run, f"error against size, n={results[sizes[0]].num_problems} per size")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_run(
    directory: str | Path,
    out: str | Path | None = None,
    *,
    split: str = "same",
    problems: int = 200,
    sizes: Sequence[int] = (),
    seed: int = 1234,
    device: str | None = None,
    plugins: Plugins | None = None,
) -> list[Path]:
    """Write the run's plots into ``out`` (default ``directory/plots``); returns their paths.

    Args:
        directory: the run directory.
        out: where the PNGs go.
        split: the split of the error-against-steps curve.
        problems: problems evaluated per curve.
        sizes: sizes of a size curve (tasks with a size option only).
        seed: seed of the problems and starts (as ``irem eval --seed``).
        device: where to evaluate (default: the run's device).
        plugins: the run's plugins (default: the installed plugins).
    """
    plugins = resolve_plugins(plugins)
    if problems <= 0:
        raise IremError(f"the problem count must be positive, got {problems}")
    if not 0 <= seed < 2**64:
        raise IremError(f"the seed must be in 0 .. 2**64 - 1, got {seed}")
    directory = Path(directory)
    plt = _pyplot()
    run = load_run(directory, device, plugins=plugins)
    if sizes and not plugins.get("task", run.config.task.name).meta.get("size_option"):
        raise IremError(
            f"task {run.config.task.name!r} declares no size option, so it has no "
            "size curve; drop --sizes"
        )
    out = directory / "plots" if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    budget = max(run.config.eval.steps)
    written = [out / "training.png", out / "error_vs_steps.png"]
    plot_training(plt, run, read_metrics(directory), written[0])
    drawn = run.task.sample(
        split, problems, seeded_generator(seed, f"problems:{split}", run.device)
    )
    result = evaluate(
        run.solver,
        run.task,
        drawn,
        [budget],
        seeded_generator(seed, f"starts:{split}", run.device),
        run.config.eval.batch_size,
    )
    plot_steps(plt, run, result, split, written[1])
    if sizes:
        results = {}
        for size in sizes:
            task = sized_task(run.config.task, size, plugins=plugins)
            drawn = task.sample(
                "same", problems, seeded_generator(seed, f"problems:size:{size}", run.device)
            )
            results[size] = evaluate(
                run.solver,
                task,
                drawn,
                [budget],
                seeded_generator(seed, f"starts:size:{size}", run.device),
                run.config.eval.batch_size,
            )
        written.append(out / "size_curve.png")
        plot_sizes(plt, run, results, written[-1])
    return written


def add_plot_command(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """Add ``irem plot``'s arguments to ``parser``; returns the function that runs it."""
    parser.add_argument("run_directory", type=Path, metavar="RUN", help="run directory")
    parser.add_argument("--out", type=Path, help="where the PNGs go (default: RUN/plots)")
    parser.add_argument(
        "--split",
        default="same",
        choices=SPLITS,
        help="split of the error-against-steps curve (default: same)",
    )
    parser.add_argument(
        "-n", "--problems", type=int, default=200, help="problems per curve (default: 200)"
    )
    parser.add_argument(
        "--sizes",
        type=positive_sizes,
        help="also draw the error against these sizes, e.g. 10,15,20",
    )
    parser.add_argument(
        "--seed", type=int, default=1234, help="seed of problems and starts (default: 1234)"
    )
    parser.add_argument("--device", help="device to evaluate on (default: the run's)")

    def run_plot(args: argparse.Namespace) -> int:
        for path in plot_run(
            args.run_directory,
            args.out,
            split=args.split,
            problems=args.problems,
            sizes=args.sizes or (),
            seed=args.seed,
            device=args.device,
            plugins=args.plugins,
        ):
            print(path)
        return 0

    return run_plot
