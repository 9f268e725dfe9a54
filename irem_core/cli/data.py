"""``irem data``: a fixed, seeded problem set written to a safetensors file."""

from __future__ import annotations

import argparse
from typing import Any

import torch

from irem_core.cli.arguments import add_set_option, path_type, seed_type
from irem_core.config.compose import default_solver, parse_override, preset_overrides, set_path
from irem_core.config.convert import structure
from irem_core.config.schema import TaskSpec
from irem_core.errors import IremError
from irem_core.runs.build import (
    build_task,
    check_problems,
)
from irem_core.runs.checkpoint import (
    atomic_write,
    read_record,
    tensors_to_bytes,
)
from irem_core.runs.memory import check_evaluation_memory
from irem_core.seeding import generator as seeded_generator


def add_parser(commands: Any) -> None:
    """Add the command to ``commands`` (the subparsers of ``irem``)."""
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
        type=path_type,
        metavar="RUN",
        help="the task and task options of a trained run, so 'irem eval RUN --data' fits",
    )
    data.add_argument("--split", default="same", help="train, same or harder (default: same)")
    data.add_argument(
        "-n", "--problems", type=int, default=1000, help="number of problems (default: 1000)"
    )
    data.add_argument("--seed", type=seed_type, default=0, help="generator seed (default: 0)")
    data.add_argument("--out", required=True, type=path_type, help="output .safetensors file")
    data.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    add_set_option(data)
    data.set_defaults(handler=cmd_data)


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
