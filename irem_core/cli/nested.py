"""``irem nested``: a trained solver composed recursively, error after each operation."""

from __future__ import annotations

import argparse
import json
from typing import Any

from irem_core.cli.arguments import (
    add_allow_long_option,
    add_set_option,
    path_type,
    positive_int,
    seed_type,
)
from irem_core.errors import IremError
from irem_core.reasoning.protocols import SPLITS
from irem_core.runs.load import load_run
from irem_core.runs.nested import nested_mse


def add_parser(commands: Any) -> None:
    """Add the command to ``commands`` (the subparsers of ``irem``)."""
    nested = commands.add_parser(
        "nested", help="compose a trained solver recursively (nested reasoning)"
    )
    nested.add_argument("run", type=path_type, help="run directory written by 'irem train'")
    nested.add_argument(
        "--strategy",
        help="recursion strategy, e.g. fold or repeat (default: the one the task declares)",
    )
    nested.add_argument(
        "--depth", type=positive_int, default=10, help="composed operations (default: 10)"
    )
    nested.add_argument(
        "--split",
        default="same",
        choices=SPLITS,
        help="distribution of the operands (default: same)",
    )
    nested.add_argument(
        "-n", "--problems", type=positive_int, default=500, help="nested problems (default: 500)"
    )
    nested.add_argument(
        "--steps", type=positive_int, help="steps per operation (default: largest eval.steps)"
    )
    nested.add_argument(
        "--seed", type=seed_type, default=1234, help="seed of operands and starts (default: 1234)"
    )
    nested.add_argument("--device", help="device (default: the run's)")
    add_set_option(nested)
    nested.add_argument("--json", action="store_true", help="print one JSON object")
    add_allow_long_option(nested)
    nested.set_defaults(handler=cmd_nested)


def cmd_nested(args: argparse.Namespace) -> int:
    """``irem nested``."""
    plugins = args.plugins
    run = load_run(args.run, args.device, args.overrides, plugins=plugins)
    steps = args.steps or max(run.config.eval.steps)
    if args.strategy is None:
        args.strategy = plugins.get("task", run.config.task.name).meta.nested
        if args.strategy is None:
            raise IremError(
                f"task {run.config.task.name!r} declares no nested strategy; pass --strategy NAME"
            )
    errors = nested_mse(
        run.solver,
        run.task,
        args.strategy,
        args.depth,
        args.split,
        args.problems,
        steps,
        args.seed,
        run.device,
        plugins=plugins,
        allow_long=args.allow_long,
    )
    report = {
        "task": run.config.task.name,
        "solver": run.config.solver.name,
        "strategy": args.strategy,
        "split": args.split,
        "n": args.problems,
        "steps": steps,
        "mse": errors,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{report['solver']} on nested {report['task']} ({args.strategy}, {args.split}, "
        f"n={args.problems}, {steps} steps per operation)"
    )
    for depth, error in enumerate(errors, start=1):
        print(f"  after {depth:>2} operations: MSE {error:.6f}")
    return 0
