"""The ``irem`` command line: plugins, data, train, eval, reproduce.

Exit codes: 0 success; 2 bad input (the message says what is wrong and how to fix it);
1 anything else.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from irem_core import __version__
from irem_core.training.allocator import keep_freed_memory
from irem_core.runs.checkpoint import (
    atomic_write,
    path_error,
    read_record,
    read_tensors,
    tensors_to_bytes,
)
from irem_core.config.schema import (
    RunConfig,
    TaskSpec,
    build_run_config,
    default_solver,
    parse_override,
    preset_overrides,
    read_config_file,
    set_path,
    structure,
    unstructure,
)
from irem_core.training.distributed import (
    relaunch,
    resolve_shards,
    training_device,
    under_torchrun,
    world_from_env,
)
from irem_core.errors import IremError
from irem_core.runs.evaluation import MIN_ENERGY, Evaluation, evaluate, json_bytes
from irem_core.runs.memory import check_evaluation_memory, check_training_memory
from irem_core.runs.nested import nested_mse
from irem_core.plugins.manager import Plugins, python_environment, resolve_plugins
from irem_core.reasoning.protocols import SPLITS
from irem_core.plugins.registry import KINDS
from irem_core.runs.build import (
    CHECKPOINTS,
    TrainedRun,
    build_task,
    check_problems,
    check_run_plugins,
    load_run,
    sized_task,
)
from irem_core.seeding import check_seed
from irem_core.seeding import generator as seeded_generator
from irem_core.training.loop import Terminated, TrainingStopped, resume_config, train


def _positive_list(convert: Callable[[str], Any], kind: str) -> Callable[[str], list[Any]]:
    """An argparse type: comma-separated finite positive ``kind`` (``"integers"``, ...)."""

    def parse(text: str) -> list[Any]:
        try:
            values = [convert(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind}, got {text!r}"
            ) from None
        if not values or not all(math.isfinite(value) and value > 0 for value in values):
            raise argparse.ArgumentTypeError(f"expected positive {kind}, got {text!r}")
        return values

    return parse


_int_list = _positive_list(int, "integers")
_factor_list = _positive_list(float, "numbers")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    """An argparse type: a seed from 0 to 2**64 − 1."""
    try:
        return check_seed(int(text))
    except (ValueError, IremError):
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to 2**64 - 1, got {text!r}"
        ) from None


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.iterations=100 "
        "(repeatable; VALUE is read as TOML, else as a string)",
    )


def build_parser(plugins: Plugins | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``irem``, with the commands of ``plugins`` (default: the
    installed plugins)."""
    parser = argparse.ArgumentParser(
        prog="irem", description="Learn iterative reasoning through energy minimization (IREM)."
    )
    parser.add_argument(
        "--version", action="version", version=f"irem {__version__} (torch {torch.__version__})"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plugins_parser = commands.add_parser(
        "plugins", help="list installed plugins and what they register"
    )
    plugins_parser.add_argument("--json", action="store_true", help="print JSON instead of text")

    data = commands.add_parser(
        "data", help="write a fixed, seeded problem set to a safetensors file"
    )
    data.add_argument("task", nargs="?", help="task name, e.g. addition (or --like RUN)")
    data.add_argument(
        "--preset",
        help="take the task options of this preset, e.g. fast or quick "
        "(default: the task's defaults, which are the paper's)",
    )
    data.add_argument(
        "--like",
        type=Path,
        metavar="RUN",
        help="the task and task options of a trained run, so 'irem eval RUN --data' fits",
    )
    data.add_argument("--split", default="same", help="train, same or harder (default: same)")
    data.add_argument(
        "-n", "--problems", type=int, default=1000, help="number of problems (default: 1000)"
    )
    data.add_argument("--seed", type=_seed, default=0, help="generator seed (default: 0)")
    data.add_argument("--out", required=True, type=Path, help="output .safetensors file")
    data.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    _add_set(data)

    train_parser = commands.add_parser("train", help="train a solver on a task")
    train_parser.add_argument("--task", help="task name (or task.name in --config)")
    train_parser.add_argument("--solver", help="solver name (default: irem)")
    train_parser.add_argument(
        "--preset",
        default="paper",
        help="the task's preset: paper (the release's settings, hours on a "
        "CPU), fast (the paper's shapes in CPU-minutes; docs/training.md) "
        "or quick (small: 8x8 matrices, 128-graph batches; 1-2 CPU minutes) (default: paper)",
    )
    train_parser.add_argument("--config", type=Path, help="TOML or JSON config file")
    _add_set(train_parser)
    train_parser.add_argument("--out", required=True, type=Path, help="run directory")
    train_parser.add_argument("--seed", type=_seed, help="seed of every generator (default: 0)")
    train_parser.add_argument(
        "--device", help="cpu, cuda, auto (CUDA when available), ... (default: cpu)"
    )
    train_parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint with its saved config (--set and "
        "--device still apply; a different --task, --solver or --seed is refused)",
    )
    train_parser.add_argument(
        "--force", action="store_true", help="overwrite a run already in --out"
    )
    train_parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train_parser.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train with N data-parallel processes on this machine (re-launches "
        "itself through torchrun; gloo on CPU, one GPU each with NCCL on "
        "CUDA); train.batch_size stays the global batch (default: 1)",
    )

    eval_parser = commands.add_parser("eval", help="evaluate a trained run")
    eval_parser.add_argument("run", type=Path, help="run directory written by 'irem train'")
    eval_parser.add_argument(
        "--split", default="same", choices=SPLITS, help="train, same or harder (default: same)"
    )
    eval_parser.add_argument(
        "--steps",
        type=_int_list,
        help="step budgets, e.g. 10,20,40,80 (default: the run's eval.steps)",
    )
    eval_parser.add_argument(
        "-n", "--problems", type=_positive_int, help="number of problems (default: eval.problems)"
    )
    eval_parser.add_argument(
        "--data", type=Path, help="problem file from 'irem data' (overrides --split/-n)"
    )
    eval_parser.add_argument(
        "--sizes",
        type=_int_list,
        help="evaluate at each problem size, e.g. "
        "10,15,20,25,30 (tasks that declare a size option, e.g. graph nodes)",
    )
    eval_parser.add_argument(
        "--steps-per-size",
        type=_factor_list,
        metavar="FACTORS",
        help="with --sizes, instead of --steps: budgets proportional to the size, "
        "factor x size steps (rounded half up) per factor, e.g. 0.5 (5 steps at size 10, 15 at 30)",
    )
    eval_parser.add_argument(
        "--seed", type=_seed, default=1234, help="seed of problems and starts (default: 1234)"
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
    _add_set(eval_parser)
    eval_parser.add_argument(
        "--halt",
        choices=["energy", "gradient"],
        help="also evaluate with per-problem halting: stop a problem when its "
        "energy decrease over --halt-window steps, or its gradient norm, "
        "falls below --halt-tolerance (the step budget is the maximum)",
    )
    eval_parser.add_argument(
        "--halt-tolerance", type=float, default=1e-4, help="halting threshold (default: 1e-4)"
    )
    eval_parser.add_argument(
        "--halt-window",
        type=int,
        default=1,
        help="steps over which the energy decrease is measured (default: 1)",
    )

    nested = commands.add_parser(
        "nested", help="compose a trained solver recursively (nested reasoning)"
    )
    nested.add_argument("run", type=Path, help="run directory written by 'irem train'")
    nested.add_argument(
        "--strategy",
        help="recursion strategy, e.g. fold or repeat (default: the one the task declares)",
    )
    nested.add_argument(
        "--depth", type=_positive_int, default=10, help="composed operations (default: 10)"
    )
    nested.add_argument(
        "--split",
        default="same",
        choices=SPLITS,
        help="distribution of the operands (default: same)",
    )
    nested.add_argument(
        "-n", "--problems", type=_positive_int, default=500, help="nested problems (default: 500)"
    )
    nested.add_argument(
        "--steps", type=_positive_int, help="steps per operation (default: largest eval.steps)"
    )
    nested.add_argument(
        "--seed", type=_seed, default=1234, help="seed of operands and starts (default: 1234)"
    )
    nested.add_argument("--device", help="device (default: the run's)")
    _add_set(nested)
    nested.add_argument("--json", action="store_true", help="print one JSON object")
    eval_parser.add_argument("--json", action="store_true", help="print one JSON object")

    for component in resolve_plugins(plugins).registries["command"].components():
        command = commands.add_parser(component.name, help=component.meta.get("help"))
        command.set_defaults(run=component.factory(command))
    return parser


def _plugins_report(plugins: Plugins) -> dict[str, Any]:
    report: dict[str, Any] = {
        "python": sys.executable,
        "environment": python_environment(),
        "plugins": [],
    }
    for name, info in sorted(plugins.infos.items()):
        report["plugins"].append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "status": "active" if info.error is None else "broken",
                "error": info.error,
                "registers": {
                    kind: sorted(names)
                    for kind, names in plugins.registered.get(name, {}).items()
                    if names
                },
            }
        )
    return report


def cmd_plugins(args: argparse.Namespace) -> int:
    """``irem plugins``."""
    report = _plugins_report(args.plugins)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"Python environment: {report['environment']} ({report['python']})")
    for plugin in report["plugins"]:
        origin = f"{plugin['distribution']} {plugin['version']}".strip() or "(no distribution)"
        print(f"\n{plugin['name']}  [{origin}]  {plugin['status']}")
        if plugin["error"]:
            print(f"  error: {plugin['error']}")
        for kind in KINDS:
            names = plugin["registers"].get(kind)
            if names:
                print(f"  {kind}: {', '.join(names)}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """``irem data``."""
    plugins = args.plugins
    if args.problems <= 0:
        raise IremError(f"-n must be positive, got {args.problems}")
    data: dict[str, Any] = {}
    for path, value in map(parse_override, args.overrides):
        set_path(data, path, value)
    unknown = set(data) - {"task"}
    if unknown:
        raise IremError(f"irem data only takes task.* overrides, got {', '.join(sorted(unknown))}")
    if "name" in data.get("task", {}):
        raise IremError(
            "--set task.name does not choose the task of irem data; name it as the "
            "argument (irem data NAME) or take a run's with --like RUN"
        )
    if args.like is not None:
        if args.task is not None or args.preset is not None:
            raise IremError(
                "--like RUN takes the task and its options from the run; drop the "
                "task name and --preset"
            )
        base = read_record(args.like)["config"]["task"]
    elif args.task is None:
        raise IremError("name a task (irem data addition ...) or pass --like RUN")
    else:
        base = {"name": args.task}
        if args.preset is not None:
            base.update(
                preset_overrides(
                    args.task, default_solver(plugins=plugins), args.preset, plugins=plugins
                ).get("task", {})
            )
    if args.out.is_file() and not args.force:
        raise IremError(
            f"{args.out} already exists; choose another --out, or pass --force to overwrite it"
        )
    spec = structure(
        {**base, **data.get("task", {}), "name": base["name"]}, TaskSpec, plugins=plugins
    )
    task = build_task(spec, plugins=plugins)
    check_evaluation_memory("irem data", task, args.split, args.problems, 0, 0, torch.device("cpu"))
    generator = seeded_generator(args.seed, f"problems:{args.split}")
    problems = task.sample(args.split, args.problems, generator)
    check_problems(spec.name, task, problems, args.problems, plugins=plugins)
    atomic_write(args.out, tensors_to_bytes(task.to_tensors(problems)))
    print(
        f"wrote {args.problems} {spec.name} problems ({args.split}, seed {args.seed}) to {args.out}"
    )
    return 0


def _check_resume_arguments(args: argparse.Namespace, saved: dict[str, Any]) -> None:
    """Refuse ``--resume`` with arguments it would ignore: a different ``--task``,
    ``--solver`` or ``--seed`` than the run's (``saved``, its config as plain data),
    or a ``--config`` file. ``--preset`` is not stored, so it is accepted and unused."""
    if args.config is not None:
        raise IremError(
            "--config does not apply with --resume (the run continues with its saved "
            "config); change fields with --set, or start a new run without --resume"
        )
    given = {
        "--task": (args.task, saved["task"]["name"]),
        "--solver": (args.solver, saved["solver"]["name"]),
        "--seed": (args.seed, saved["seed"]),
    }
    for option, (value, kept) in given.items():
        if value is not None and value != kept:
            raise IremError(
                f"{option} {value} differs from the run's {kept!r} in {args.out}; --resume "
                f"continues the saved config: drop {option}, or train a new run elsewhere"
            )


def _check_nproc(config: RunConfig, args: argparse.Namespace) -> None:
    """Refuse an ``--nproc`` launch that would fail in every worker, before starting them."""
    if config.device.startswith("cuda") and torch.cuda.device_count() < args.nproc:
        raise IremError(
            f"--nproc {args.nproc} with device {config.device!r} needs {args.nproc} GPUs "
            f"(one per process) but {torch.cuda.device_count()} are visible; lower "
            "--nproc or use --device cpu"
        )
    saved = None
    if args.resume:
        saved = read_record(args.out).get("training", {}).get("shards", 1)
    resolve_shards(config.train, args.nproc, saved)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM during training: stop like Ctrl-C (the trainer reports where it stopped)."""
    raise Terminated()


def cmd_train(args: argparse.Namespace) -> int:
    """``irem train``; with ``--nproc N > 1`` outside torchrun, re-launches itself under it."""
    plugins = args.plugins
    if args.nproc is not None and args.nproc < 1:
        raise IremError(f"--nproc must be at least 1, got {args.nproc}")
    world = world_from_env()
    if under_torchrun() and args.nproc is not None and args.nproc != world.size:
        raise IremError(
            f"--nproc {args.nproc} disagrees with torchrun's WORLD_SIZE={world.size}; "
            "drop --nproc when launching with torchrun yourself"
        )
    if args.resume:
        saved = resume_config(args.out, plugins=plugins)
        check_run_plugins(args.out, plugins=plugins)
        _check_resume_arguments(args, saved)
        for path, value in map(parse_override, args.overrides):
            set_path(saved, path, value)
        if args.device:
            saved["device"] = args.device
        config = structure(saved, RunConfig, plugins=plugins)
    else:
        file_data = read_config_file(args.config) if args.config else None
        config = build_run_config(
            task=args.task,
            solver=args.solver,
            preset=args.preset,
            file_data=file_data,
            overrides=args.overrides,
            seed=args.seed,
            device=args.device,
            plugins=plugins,
        )
    check_training_memory(
        config,
        build_task(config.task, plugins=plugins),
        training_device(config.device, world),
        plugins=plugins,
    )
    if not under_torchrun() and args.nproc and args.nproc > 1:
        _check_nproc(config, args)
        return relaunch(args.nproc, args.argv)
    signal.signal(signal.SIGTERM, _terminate)
    summary = train(
        config,
        args.out,
        resume=args.resume,
        force=args.force,
        progress=not args.no_progress,
        world=world,
        plugins=plugins,
    )
    if not world.is_main:
        return 0
    if summary.trained_iterations == 0:
        print(
            f"nothing to train: {summary.directory} is finished at iteration "
            f"{summary.iterations} (train.iterations = {config.train.iterations}); to train "
            f"further, --resume --set train.iterations=N with N > {summary.iterations}"
        )
        return 0
    total = (
        f" (iteration {summary.iterations} in all)"
        if summary.trained_iterations != summary.iterations
        else ""
    )
    print(
        f"trained {summary.trained_iterations} iterations{total} in {summary.wall_seconds:.1f} s "
        f"({summary.problems_per_second:.0f} problems/s); final loss {summary.final_loss:.4g}; "
        f"checkpoint in {summary.directory}"
    )
    return 0


def _print_evaluation(title: str, result: Evaluation) -> None:
    print(title)
    for key, value in result.mse.items():
        label = "min-energy" if key == MIN_ENERGY else f"{key} steps"
        print(f"  MSE at {label:>11}: {value:.6f}")
    for name, values in result.metrics.items():
        print(f"  {name}: " + ", ".join(f"{key} {value:.4f}" for key, value in values.items()))
    print(
        f"  zero predictor MSE: {result.zero_predictor:.6f}; "
        f"mean predictor (the targets' variance): {result.mean_predictor:.6f}"
    )
    steps = result.steps_used
    print(
        f"  steps used: mean {steps['mean']:.1f}, p50 {steps['p50']:.0f}, p95 {steps['p95']:.0f}"
        + (
            f"; energy evaluations: {result.energy_evaluations}"
            if result.energy_evaluations is not None
            else ""
        )
    )
    if result.nonfinite_problems:
        print(f"  warning: {result.nonfinite_problems} problems gave NaN/Inf and are excluded")


def _print_size_table(title: str, by_size: dict[str, Evaluation], budget_labels: list[str]) -> None:
    """One row per problem size: MSE at each budget and min energy, the zero and mean
    predictors, steps.

    The budgets are the columns, named ``budget_labels`` where they differ between sizes
    (``--steps-per-size``: the i-th budget of every size), else by their step counts."""
    first = next(iter(by_size.values()))
    keys = list(first.mse)
    labels = [("min-energy" if key == MIN_ENERGY else f"{key} steps") for key in keys]
    labels[: len(budget_labels)] = budget_labels
    print(title)
    print(
        f"  {'size':>5} "
        + " ".join(f"{label:>10}" for label in labels)
        + f" {'zero':>8} {'mean':>8} {'steps used':>10}"
    )
    for size, result in by_size.items():
        print(
            f"  {size:>5} "
            + " ".join(f"{value:10.6f}" for value in result.mse.values())
            + f" {result.zero_predictor:8.4f} {result.mean_predictor:8.4f}"
            + f" {result.steps_used['mean']:10.1f}"
            + (
                f"  ({result.nonfinite_problems} non-finite excluded)"
                if result.nonfinite_problems
                else ""
            )
        )


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
    return [
        f"solver.{options}.halt='{args.halt}'",
        f"solver.{options}.halt_tolerance={args.halt_tolerance!r}",
        f"solver.{options}.halt_window={args.halt_window}",
    ]


def _report(result: Evaluation) -> dict[str, Any]:
    """The JSON report of one evaluation: ``n``, ``mse`` and the rest, without the curve."""
    data = result.to_dict()
    del data["curve"]
    return {"n": data.pop("num_problems"), **data}


def _weights(run: TrainedRun) -> str:
    """``"best weights from "`` for the best weights of a run, else nothing (report titles)."""
    return "best weights from " if run.checkpoint == "best" else ""


def cmd_eval(args: argparse.Namespace) -> int:
    """``irem eval``."""
    plugins = args.plugins
    run = load_run(args.run, args.device, args.overrides, args.checkpoint, plugins=plugins)
    solvers = {"": run.solver}
    if args.halt:
        options = plugins.get("solver", run.config.solver.name).meta.get("halting")
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
    }
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
        cases = {"": (run.task, problems)}
        header["split"] = f"file:{args.data}"
    else:
        tasks = (
            {str(size): sized_task(run.config.task, size, plugins=plugins) for size in args.sizes}
            if args.sizes
            else {"": run.task}
        )
        for size, task in tasks.items():
            check_evaluation_memory(
                "irem eval",
                task,
                args.split,
                count,
                min(count, run.config.eval.batch_size),
                max(budgets_at.get(size, budgets)),
                run.device,
            )
        generator = seeded_generator(args.seed, f"problems:{args.split}", run.device)
        cases = {
            key: (task, task.sample(args.split, count, generator)) for key, task in tasks.items()
        }
        for task, problems in cases.values():
            check_problems(run.config.task.name, task, problems, count, plugins=plugins)
        header["split"] = args.split
    results: dict[str, dict[str, Evaluation]] = {}
    jobs = [(size, mode) for size in cases for mode in solvers]
    for size, mode in tqdm(
        jobs, desc="eval", unit="set", disable=len(jobs) < 2 or not sys.stderr.isatty(), leave=False
    ):
        task, problems = cases[size]
        generator = seeded_generator(args.seed, f"starts:{args.split}", run.device)
        results.setdefault(size, {})[mode] = evaluate(
            solvers[mode],
            task,
            problems,
            budgets_at.get(size, budgets),
            generator,
            run.config.eval.batch_size,
        )
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
            _print_size_table(
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
        _print_evaluation(f"{header['solver']} on {header['task']} ({details})", result)
    return 0


def cmd_nested(args: argparse.Namespace) -> int:
    """``irem nested``."""
    plugins = args.plugins
    run = load_run(args.run, args.device, args.overrides, plugins=plugins)
    steps = args.steps or max(run.config.eval.steps)
    if args.strategy is None:
        args.strategy = plugins.get("task", run.config.task.name).meta.get("nested")
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


COMMANDS = {
    "plugins": cmd_plugins,
    "data": cmd_data,
    "train": cmd_train,
    "eval": cmd_eval,
    "nested": cmd_nested,
}


def main(argv: Sequence[str] | None = None, *, plugins: Plugins | None = None) -> int:
    """Run the CLI with ``plugins`` (default: the installed plugins, loaded here once);
    returns the exit code. Every command finds them in ``args.plugins``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    keep_freed_memory()
    plugins = resolve_plugins(plugins)
    args = build_parser(plugins).parse_args(argv)
    args.argv, args.plugins = argv, plugins
    try:
        run = COMMANDS[args.command] if args.command in COMMANDS else args.run  # noqa: SIM401 (args.run exists only for plugin commands)
        return run(args)
    except TrainingStopped as stopped:
        print(f"irem {args.command}: {stopped}", file=sys.stderr)
        return stopped.signal_exit
    except IremError as error:
        return _report_error(args, error)
    except OSError as error:
        path = _user_path(error, args)
        if path is None:  # not about a path the user gave: a bug, with its traceback
            raise
        return _report_error(args, path_error(error, path))


USER_PATHS = ("out", "run", "data", "config", "like")
"""The arguments of commands (plugin commands included) that name the user's files."""


def _user_path(error: OSError, args: argparse.Namespace) -> Path | None:
    """The path argument that ``error`` concerns: the file named in the error is that path,
    lies inside it, is a folder above it or beside it (a temporary file); ``None`` if none."""
    given = [value for name in USER_PATHS if isinstance(value := getattr(args, name, None), Path)]
    failed = [
        Path(os.fsdecode(name)).absolute()
        for name in (error.filename, error.filename2)
        if name is not None
    ]
    relations = (
        lambda user, path: path == user,
        lambda user, path: user in path.parents,
        lambda user, path: path in user.parents or path.parent == user.parent,
    )
    for related in relations:  # the closest relation wins: the path itself, inside, around
        for user in given:
            if any(related(user.absolute(), path) for path in failed):
                return user
    return None


def _report_error(args: argparse.Namespace, error: IremError) -> int:
    """Print ``irem COMMAND: error: MESSAGE`` (naming the rank under torchrun); returns 2."""
    rank = os.environ.get("RANK", "0") if under_torchrun() else "0"
    where = f"irem {args.command}" + (f" (rank {rank})" if rank != "0" else "")
    print(f"{where}: error: {error}", file=sys.stderr)
    return 2


def entry_point() -> None:
    """Console-script entry point; a closed stdout (``irem plugins | head``) ends quietly."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stdout = None
        code = 0
    sys.exit(code)
