"""The command lines of this plugin: ``irem reproduce`` and ``irem plot``."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from irem_core.cli.arguments import path_type
from irem_core.reasoning.protocols import SPLITS
from irem_plugins.experiments.plot import plot_run
from irem_plugins.experiments.protocol import (
    DEFAULT_LR_FACTORS,
    DEFAULT_SIZES,
    DEFAULT_SOLVERS,
    DEFAULT_SWEEP_FRACTION,
    DEFAULT_TASKS,
)
from irem_plugins.experiments.reproduce import reproduce
from irem_plugins.experiments.results import joined


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _number_list(
    kind: Callable[[str], Any], valid: Callable[[Any], bool], description: str
) -> Callable[[str], list[Any]]:
    """An argparse type for comma-separated numbers that each pass ``valid`` ('' is none)."""

    def parse(text: str) -> list[Any]:
        try:
            values = [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            values = None
        if values is None or not all(valid(value) for value in values):
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {description}, got {text!r}"
            )
        return values

    return parse


positive_sizes = _number_list(int, lambda size: size > 0, "positive integers")
"""Parse comma-separated positive sizes (argparse type of ``--sizes``)."""


_seeds = _number_list(int, lambda seed: 0 <= seed < 2**63, "non-negative integers")


_factors = _number_list(
    float, lambda factor: math.isfinite(factor) and factor > 0, "positive numbers"
)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}")
    return value


def add_reproduce_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``irem reproduce``."""
    parser.add_argument(
        "--preset", default="quick", help="the tasks' preset: quick, fast or paper (default: quick)"
    )
    parser.add_argument(
        "--tasks",
        type=_names,
        default=list(DEFAULT_TASKS),
        help=f"comma-separated tasks (default: {','.join(DEFAULT_TASKS)})",
    )
    parser.add_argument(
        "--solvers",
        type=_names,
        default=list(DEFAULT_SOLVERS),
        help=f"comma-separated solvers (default: {','.join(DEFAULT_SOLVERS)})",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=path_type,
        help="output directory; finished runs in it are reused",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="[NAME:]KEY=VALUE",
        help="override a config field of every run, or with NAME: only of the "
        "runs of that task or solver (repeatable)",
    )
    parser.add_argument(
        "--eval-set",
        dest="eval_overrides",
        action="append",
        default=[],
        metavar="[NAME:]solver.KEY=VALUE",
        help="change how the trained runs (of task or solver NAME) reason when evaluated, "
        "not how they train, e.g. irem:solver.optimizer.name=linesearch (repeatable)",
    )
    parser.add_argument(
        "--sizes",
        type=positive_sizes,
        default=list(DEFAULT_SIZES),
        help="sizes of the size curve for sized tasks, e.g. 10,15,20 ('' for none; "
        f"default: {','.join(map(str, DEFAULT_SIZES))})",
    )
    parser.add_argument(
        "--seeds",
        "--seed",
        dest="seeds",
        type=_seeds,
        default=[0],
        help="comma-separated training seeds of the full runs; the sweep and "
        "the evaluation problems use the first (default: 0)",
    )
    parser.add_argument(
        "--lr-sweep",
        dest="lr_factors",
        type=_factors,
        default=list(DEFAULT_LR_FACTORS),
        metavar="FACTORS",
        help="factors of the preset's learning rate that every solver tries in "
        "short runs before its full runs ('' for none; default: "
        f"{joined(f'{factor:.3g}' for factor in DEFAULT_LR_FACTORS)})",
    )
    parser.add_argument(
        "--sweep-fraction",
        type=_fraction,
        default=DEFAULT_SWEEP_FRACTION,
        help="length of a sweep run as a fraction of the full run's iterations "
        f"(default: {DEFAULT_SWEEP_FRACTION:g})",
    )
    parser.add_argument("--device", help="cpu, cuda, ... (default: cpu)")
    parser.add_argument(
        "--jobs",
        type=int,
        help="runs trained at once, each in its own process "
        "(default: one per CPU core up to 4 on CPU, 1 on an accelerator)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def cmd_reproduce(args: argparse.Namespace) -> int:
    """``irem reproduce``."""
    summary = reproduce(
        args.out,
        preset=args.preset,
        tasks=args.tasks,
        solvers=args.solvers,
        overrides=args.overrides,
        eval_overrides=args.eval_overrides,
        seeds=args.seeds,
        device=args.device,
        sizes=args.sizes,
        lr_factors=args.lr_factors,
        sweep_fraction=args.sweep_fraction,
        jobs=args.jobs,
        progress=not args.no_progress,
        plugins=args.plugins,
    )
    print(
        f"{len(summary.trained)} runs trained and evaluated, {len(summary.reused)} reused "
        f"(besides the learning-rate sweep), in "
        f"{summary.wall_seconds:.0f} s; results in {summary.directory / 'results.md'}"
    )
    return 0


def add_reproduce_command(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """Add ``irem reproduce``'s arguments to ``parser``; returns the function that runs it."""
    add_reproduce_arguments(parser)
    return cmd_reproduce


def add_plot_command(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """Add ``irem plot``'s arguments to ``parser``; returns the function that runs it."""
    parser.add_argument("run_directory", type=path_type, metavar="RUN", help="run directory")
    parser.add_argument("--out", type=path_type, help="where the PNGs go (default: RUN/plots)")
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
