"""Every figure of this plugin, as PNG: ``irem plot``'s of one run and ``irem reproduce``'s.

``irem plot RUN`` (:func:`plot_run`): ``training.png`` draws the training loss and the
periodic validation MSE (``train.eval_every``) against iterations from ``metrics.jsonl``;
``error_vs_steps.png`` evaluates the run on fresh problems of a split and draws the MSE of
every iterate, with the zero predictor's MSE and a marker at the step count the solver was
trained with; ``--sizes`` adds ``size_curve.png`` for tasks with a size option (graph
nodes), one point per integer size.

``irem reproduce`` (:func:`write_plots`): per task the error against steps of every solver,
and its size and nested curves beside the paper's.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from irem_core.config.convert import unstructure
from irem_core.errors import IremError
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.runs.checkpoint import atomic_write
from irem_core.runs.evaluation import MIN_ENERGY, Evaluation, evaluate
from irem_core.runs.files import run_folder
from irem_core.runs.load import TrainedRun, load_run
from irem_core.runs.memory import check_evaluation_memory
from irem_core.runs.sizes import evaluate_sizes
from irem_core.seeding import generator as seeded_generator
from irem_core.textfile import parse_json, read_lines
from irem_plugins.experiments.protocol import paper

METRICS_FILE = "metrics.jsonl"


def read_metrics(directory: Path) -> list[dict[str, Any]]:
    """The records of ``directory/metrics.jsonl``; an unreadable line (cut off by a kill, not
    UTF-8) is skipped."""
    path = directory / METRICS_FILE
    if not path.is_file():
        raise IremError(
            f"{directory} has no {METRICS_FILE}; is it a run directory written by 'irem train'?"
        )
    records = []
    for line in read_lines(path):
        if line is None:  # not UTF-8
            continue
        try:
            records.append(parse_json(line, path))
        except (json.JSONDecodeError, IremError):
            continue  # cut off by a kill
    return records


def pyplot() -> Any | None:
    """``matplotlib.pyplot`` drawing to files (the Agg backend); ``None`` without matplotlib
    (``pip install 'irem[plot]'``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def save_figure(plt: Any, figure: Any, path: Path) -> None:
    """Write ``figure`` to ``path`` as PNG by an atomic replace (never through a link planted
    at ``path``; an unwritable path is an :class:`IremError` naming it), then close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    atomic_write(path, buffer.getvalue())


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
    save_figure(plt, figure, path)


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
    save_figure(plt, figure, path)


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
    save_figure(plt, figure, path)


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
        sizes: sizes of a size curve (tasks with a size option only), evaluated by
            :func:`~irem_core.runs.sizes.evaluate_sizes` with ``seed``.
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
    plt = pyplot()
    if plt is None:
        raise IremError("irem plot needs matplotlib: pip install 'irem[plot]'")
    run = load_run(directory, device, plugins=plugins)
    if sizes and not plugins.get("task", run.config.task.name).meta.size_option:
        raise IremError(
            f"task {run.config.task.name!r} declares no size option, so it has no "
            "size curve; drop --sizes"
        )
    budget = max(run.config.eval.steps)
    at_once = min(problems, run.config.eval.batch_size)
    check_evaluation_memory("irem plot", run.task, split, problems, at_once, budget, run.device)
    out = run_folder(directory / "plots") if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
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
        curve = evaluate_sizes(
            run, sizes, [budget], problems=problems, seed=seed, split="same", plugins=plugins
        )
        written.append(out / "size_curve.png")
        plot_sizes(plt, run, curve.by_size(), written[-1])
    return written


def write_plots(out: Path, results: dict[str, Any], *, plugins: Plugins) -> None:
    """``error_vs_steps_<task>.png`` for every task, ``size_curve_<task>.png`` where sized and
    ``nested_<task>.png`` where nested.

    Needs matplotlib (``pip install irem[plot]``); without it the plots are skipped with a
    note on stderr. Diverged runs are left out.
    """
    plt = pyplot()
    if plt is None:
        print(
            "irem reproduce: matplotlib is not installed, so no plots were written "
            "(pip install 'irem[plot]')",
            file=sys.stderr,
        )
        return
    for task in results["tasks"]:
        runs = {solver: run for solver, run in results["runs"][task].items() if "error" not in run}
        if not runs:
            continue
        figure, axes = plt.subplots(1, len(results["splits"]), figsize=(11, 4), squeeze=False)
        for axis, split in zip(axes[0], results["splits"]):
            for solver, run in runs.items():
                axis.plot(run["splits"][split]["curve"], label=solver)
            zero = next(iter(runs.values()))["splits"][split]["zero_predictor"]
            axis.axhline(zero, color="grey", linestyle=":", label="zero predictor")
            axis.set(title=f"{task} ({split})", xlabel="step", ylabel="MSE", yscale="log")
        axes[0][0].legend(fontsize="small")
        figure.tight_layout()
        save_figure(plt, figure, out / f"error_vs_steps_{task}.png")
        sizes = results["sizes"].get(task, [])
        if sizes:
            _plot_size_curve(plt, out, task, sizes, runs, plugins)
        if any("nested" in run for run in runs.values()):
            _plot_nested_curve(plt, out, task, runs, plugins)


def _plot_size_curve(
    plt: Any,
    out: Path,
    task: str,
    sizes: list[int],
    runs: dict[str, dict[str, Any]],
    plugins: Plugins,
) -> None:
    figure, axis = plt.subplots(figsize=(8, 4))
    for solver, run in runs.items():
        (line,) = axis.plot(
            sizes,
            [run["sizes"][str(size)]["mse"][MIN_ENERGY] for size in sizes],
            marker="o",
            label=solver,
        )
        reference = paper(task, plugins=plugins).get("size_curves", {}).get(solver)
        if reference:
            axis.plot(
                list(reference),
                list(reference.values()),
                linestyle="--",
                marker="x",
                color=line.get_color(),
                label=f"{solver} (paper)",
            )
    axis.set(title=f"{task}: error vs problem size", xlabel="size", ylabel="MSE", yscale="log")
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.tight_layout()
    save_figure(plt, figure, out / f"size_curve_{task}.png")


def _plot_nested_curve(
    plt: Any, out: Path, task: str, runs: dict[str, dict[str, Any]], plugins: Plugins
) -> None:
    figure, axis = plt.subplots(figsize=(8, 4))
    for solver, run in runs.items():
        errors = run["nested"]["mse"]
        (line,) = axis.plot(range(1, len(errors) + 1), errors, marker="o", label=solver)
        reference = paper(task, plugins=plugins).get("nested_curves", {}).get(solver)
        if reference:
            axis.plot(
                list(reference),
                list(reference.values()),
                linestyle="none",
                marker="x",
                markersize=9,
                color=line.get_color(),
                label=f"{solver} (paper)",
            )
    axis.set(
        title=f"{task}: error vs composed operations",
        xlabel="composed operations",
        ylabel="MSE",
        yscale="log",
    )
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.tight_layout()
    save_figure(plt, figure, out / f"nested_{task}.png")
