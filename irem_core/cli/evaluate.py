"""``irem eval``: a trained run's error at each step budget, on a split, a file or sizes."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import attrs
from tqdm.auto import tqdm

from irem_core.cli.arguments import (
    add_precision_option,
    add_set_option,
    add_threads_option,
    factor_list,
    int_list,
    path_type,
    positive_int,
    seed_type,
)
from irem_core.cli.output import print_evaluation, print_size_table
from irem_core.config.convert import unstructure
from irem_core.errors import IremError
from irem_core.reasoning.descent import HaltOptions
from irem_core.reasoning.protocols import SPLITS, Problems, Solver
from irem_core.runs.build import check_problems, sized_task
from irem_core.runs.checkpoint import read_tensors
from irem_core.runs.evaluation import Evaluation, evaluate, json_bytes
from irem_core.runs.load import CHECKPOINTS, TrainedRun, load_run
from irem_core.runs.memory import check_evaluation_memory
from irem_core.runs.sizes import evaluate_sizes
from irem_core.seeding import generator as seeded_generator
from irem_core.threads import ThreadPolicy
from irem_core.training.precision import autocast, check_precision, resolve_precision


def _size_budgets(args: argparse.Namespace) -> dict[str, list[int]]:
    """``--steps-per-size``: each size's budgets, ``factor × size`` rounded half up (at least 1) per
    factor, keyed like the evaluated sizes; refuses factors that give a size one budget twice."""
    if not args.sizes or args.steps:
        raise IremError(
            "--steps-per-size needs --sizes and replaces --steps; "
            "e.g. --sizes 10,20,30 --steps-per-size 0.5"
        )
    budgets_at = {}
    for size in args.sizes:
        budgets = [max(1, math.floor(factor * size + 0.5)) for factor in args.steps_per_size]
        if len(set(budgets)) < len(budgets) or budgets != sorted(budgets):
            raise IremError(
                f"--steps-per-size {','.join(f'{f:g}' for f in args.steps_per_size)} gives "
                f"budgets {budgets} at size {size}; use increasing factors whose budgets differ"
            )
        budgets_at[str(size)] = budgets
    return budgets_at


def _halting_overrides(args: argparse.Namespace, options: str) -> list[str]:
    """``--set`` overrides for ``--halt``; ``options`` is the solver's section holding them
    (its registration meta ``halting``, e.g. ``"optimizer"``)."""
    window = HaltOptions(halt=args.halt, halt_window=args.halt_window).window
    return [
        f"solver.{options}.halt='{args.halt}'",
        f"solver.{options}.halt_tolerance={args.halt_tolerance!r}",
        f"solver.{options}.halt_window={window}",
    ]


def _report(result: Evaluation) -> dict[str, Any]:
    """The JSON report of one evaluation: ``n``, ``mse`` and the rest, without the curve."""
    data = result.to_dict()
    del data["curve"]
    return {"n": data.pop("num_problems"), **data}


def _weights(run: TrainedRun) -> str:
    """``"best weights from "`` for the best weights of a run, else nothing (report titles)."""
    return "best weights from " if run.checkpoint == "best" else ""


def _evaluate(
    args: argparse.Namespace,
    run: TrainedRun,
    solvers: dict[str, Solver],
    problems: Problems | None,
    budgets: list[int],
    budgets_at: dict[str, list[int]],
    count: int,
) -> dict[str, dict[str, Evaluation]]:
    """Each solver's evaluations (``solvers``: by mode, ``""`` and maybe ``"halting"``),
    keyed by size (``""`` without ``--sizes``), then by mode."""
    plugins = args.plugins
    results: dict[str, dict[str, Evaluation]] = {}
    for mode in tqdm(
        solvers,
        desc="eval",
        unit="set",
        disable=len(solvers) < 2 or not sys.stderr.isatty(),
        leave=False,
    ):
        if args.sizes:
            curve = evaluate_sizes(
                attrs.evolve(run, solver=solvers[mode]),
                args.sizes,
                {int(size): steps for size, steps in budgets_at.items()} or budgets,
                problems=count,
                seed=args.seed,
                split=args.split,
                plugins=plugins,
            )
            for size, result in curve.by_size().items():
                results.setdefault(str(size), {})[mode] = result
            continue
        generator = seeded_generator(args.seed, f"starts:{args.split}", run.device)
        assert problems is not None
        results.setdefault("", {})[mode] = evaluate(
            solvers[mode], run.task, problems, budgets, generator, run.config.eval.batch_size
        )
    return results


def add_parser(commands: Any) -> None:
    """Add the command to ``commands`` (the subparsers of ``irem``)."""
    eval_parser = commands.add_parser("eval", help="evaluate a trained run")
    eval_parser.add_argument("run", type=path_type, help="run directory written by 'irem train'")
    eval_parser.add_argument(
        "--split", default="same", choices=SPLITS, help="train, same or harder (default: same)"
    )
    eval_parser.add_argument(
        "--steps",
        type=int_list,
        help="step budgets, e.g. 10,20,40,80 (default: the run's eval.steps)",
    )
    eval_parser.add_argument(
        "-n", "--problems", type=positive_int, help="number of problems (default: eval.problems)"
    )
    eval_parser.add_argument(
        "--data", type=path_type, help="problem file from 'irem data' (overrides --split/-n)"
    )
    eval_parser.add_argument(
        "--sizes",
        type=int_list,
        help="evaluate at each problem size, e.g. "
        "10,15,20,25,30 (tasks that declare a size option, e.g. graph nodes)",
    )
    eval_parser.add_argument(
        "--steps-per-size",
        type=factor_list,
        metavar="FACTORS",
        help="with --sizes, instead of --steps: budgets proportional to the size, "
        "factor x size steps (rounded half up) per factor, e.g. 0.5 (5 steps at size 10, 15 at 30)",
    )
    eval_parser.add_argument(
        "--seed", type=seed_type, default=1234, help="seed of problems and starts (default: 1234)"
    )
    eval_parser.add_argument("--device", help="device to evaluate on (default: the run's)")
    eval_parser.add_argument(
        "--checkpoint",
        choices=CHECKPOINTS,
        default="last",
        help="the weights to evaluate: last (the last checkpoint) or best "
        "(the lowest validation MSE seen in training, with "
        "train.eval_every > 0) (default: last)",
    )
    add_set_option(eval_parser)
    eval_parser.add_argument(
        "--halt",
        choices=["energy", "energy_absolute", "gradient"],
        help="also evaluate with per-problem halting (the step budget is the maximum): "
        "energy stops a problem when its lowest energy improved over the last "
        "--halt-window steps by at most --halt-tolerance of its descent so far; "
        "energy_absolute when its energy fell by less than --halt-tolerance over "
        "--halt-window steps; gradient when its gradient norm is below --halt-tolerance",
    )
    eval_parser.add_argument(
        "--halt-tolerance", type=float, default=1e-4, help="halting threshold (default: 1e-4)"
    )
    eval_parser.add_argument(
        "--halt-window",
        type=positive_int,
        help="steps over which the energy rules measure the decrease "
        "(default: the rule's, 8 for energy, 1 for energy_absolute)",
    )
    add_precision_option(eval_parser)
    add_threads_option(eval_parser)
    eval_parser.add_argument("--json", action="store_true", help="print one JSON object")
    eval_parser.set_defaults(handler=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    """``irem eval``."""
    plugins = args.plugins
    if args.data and args.sizes:
        raise IremError(
            "--data evaluates the problems of a file and --sizes draws problems at each size; "
            "pass one of them"
        )
    run = load_run(args.run, args.device, args.overrides, args.checkpoint, plugins=plugins)
    ThreadPolicy(args.threads, "eval").start()
    precision = resolve_precision(args.precision, run.device)
    check_precision(precision, run.device, "--precision")
    solvers = {"": run.solver}
    if args.halt:
        options = plugins.get("solver", run.config.solver.name).meta.halting
        if options is None:
            raise IremError(
                f"--halt needs a solver that halts per problem; "
                f"{run.config.solver.name!r} does not declare halting options"
            )
        solvers["halting"] = load_run(
            args.run,
            args.device,
            args.overrides + _halting_overrides(args, options),
            args.checkpoint,
            plugins=plugins,
        ).solver
    budgets = args.steps or run.config.eval.steps
    budgets_at = _size_budgets(args) if args.steps_per_size else {}
    count = args.problems or run.config.eval.problems
    header: dict[str, Any] = {
        "task": run.config.task.name,
        "solver": run.config.solver.name,
        "solver_config": unstructure(run.config.solver),
        "checkpoint": run.checkpoint,
        "iteration": run.iteration,
        "precision": precision,
    }
    problems: Problems | None = None
    if args.data:
        tensors = {
            key: value.to(run.device)
            for key, value in read_tensors(
                args.data, remedy="write it again with 'irem data --like RUN'"
            ).items()
        }
        problems = run.task.from_tensors(tensors)
        if problems.num_problems == 0:
            raise IremError(f"{args.data} holds no problems; write some with 'irem data -n N'")
        check_evaluation_memory(
            "irem eval",
            run.task,
            "same",
            0,
            min(problems.num_problems, run.config.eval.batch_size),
            max(budgets),
            run.device,
        )
        header["split"] = f"file:{args.data}"
    elif args.sizes:
        for size in args.sizes:
            check_evaluation_memory(
                "irem eval",
                sized_task(run.config.task, size, plugins=plugins),
                args.split,
                count,
                min(count, run.config.eval.batch_size),
                max(budgets_at.get(str(size), budgets)),
                run.device,
            )
        header["split"] = args.split
    else:
        check_evaluation_memory(
            "irem eval",
            run.task,
            args.split,
            count,
            min(count, run.config.eval.batch_size),
            max(budgets),
            run.device,
        )
        problems = run.task.sample(
            args.split, count, seeded_generator(args.seed, f"problems:{args.split}", run.device)
        )
        check_problems(run.config.task.name, run.task, problems, count, plugins=plugins)
        header["split"] = args.split
    with autocast(precision, run.device):
        results = _evaluate(args, run, solvers, problems, budgets, budgets_at, count)
    reports = {
        size: {
            **_report(by_mode[""]),
            **({"halting": _report(by_mode["halting"])} if "halting" in by_mode else {}),
        }
        for size, by_mode in results.items()
    }
    if args.steps_per_size:
        header["steps_per_size"] = args.steps_per_size
    if args.json:
        body = {"sizes": reports} if args.sizes else reports[""]
        print(json_bytes({**header, **body}).decode())  # NaN (all problems non-finite) as null
        return 0
    if args.sizes:
        for mode in solvers:
            print_size_table(
                f"{header['solver']} on {header['task']} ({header['split']}, "
                f"n={count} per size, {_weights(run)}iteration {run.iteration}"
                f"{', ' + mode if mode else ''})",
                {size: by_mode[mode] for size, by_mode in results.items()},
                [f"{factor:g}xn steps" for factor in args.steps_per_size or []],
            )
        return 0
    if args.overrides:
        print(f"solver: {json.dumps(header['solver_config'])}")
    for mode, result in results[""].items():
        details = ", ".join(
            part
            for part in (
                header["split"],
                f"n={result.num_problems}",
                f"{_weights(run)}iteration {run.iteration}",
                mode,
            )
            if part
        )
        print_evaluation(f"{header['solver']} on {header['task']} ({details})", result)
    return 0
