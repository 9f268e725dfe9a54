"""``irem train``: checks the arguments, then trains (re-launching under torchrun for ``--nproc``)."""

from __future__ import annotations

import argparse
from typing import Any

import torch

from irem_core.cli.arguments import (
    add_allow_long_option,
    add_set_option,
    add_threads_option,
    path_type,
    seed_type,
)
from irem_core.config.compose import build_run_config, parse_override, read_config_file, set_path
from irem_core.config.convert import structure
from irem_core.config.schema import RunConfig
from irem_core.errors import IremError
from irem_core.runs.build import build_task, resolve_device
from irem_core.runs.load import check_run_plugins
from irem_core.runs.memory import PROCESS_BYTES, check_memory, check_training_cost
from irem_core.training.checks import check_training
from irem_core.training.distributed import (
    relaunch,
    training_device,
    under_torchrun,
    world_from_env,
)
from irem_core.training.loop import train
from irem_core.training.rundir import resume_config


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
    resolve_device(config.device)  # a device this machine lacks is said first
    if config.device.startswith("cuda") and torch.cuda.device_count() < args.nproc:
        raise IremError(
            f"--nproc {args.nproc} with device {config.device!r} needs {args.nproc} GPUs "
            f"(one per process) but {torch.cuda.device_count()} are visible; lower "
            "--nproc or use --device cpu"
        )
    check_memory(
        f"--nproc {args.nproc}",
        [(f"{args.nproc:,} processes", args.nproc * PROCESS_BYTES, "--nproc")],
        torch.device("cpu"),
    )


def add_parser(commands: Any) -> None:
    """Add the command to ``commands`` (the subparsers of ``irem``)."""
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
    train_parser.add_argument("--config", type=path_type, help="TOML or JSON config file")
    add_set_option(train_parser)
    train_parser.add_argument("--out", required=True, type=path_type, help="run directory")
    train_parser.add_argument("--seed", type=seed_type, help="seed of every generator (default: 0)")
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
    add_threads_option(train_parser)
    train_parser.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train with N data-parallel processes on this machine (re-launches "
        "itself through torchrun; gloo on CPU, one GPU each with NCCL on "
        "CUDA); train.batch_size stays the global batch (default: 1)",
    )
    add_allow_long_option(train_parser)
    train_parser.set_defaults(handler=cmd_train)


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
    relaunching = not under_torchrun() and (args.nproc or 1) > 1
    if relaunching:  # first: a process count the machine cannot hold says so
        _check_nproc(config, args)
    check_training(
        config,
        args.out,
        world_size=args.nproc if relaunching else world.size,
        resume=args.resume,
        plugins=plugins,
    )
    check_training_cost(
        config,
        build_task(config.task, plugins=plugins),
        training_device(config.device, world),
        plugins=plugins,
        allow_long=args.allow_long,
    )
    if relaunching:
        return relaunch(args.nproc, args.argv)
    summary = train(
        config,
        args.out,
        resume=args.resume,
        force=args.force,
        progress=not args.no_progress,
        world=world,
        plugins=plugins,
        threads=args.threads,
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
