"""The ``irem`` command line: plugins, data, train, eval, reproduce.

Exit codes: 0 success; 2 bad input (the message says what is wrong and how to fix it);
1 anything else."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from irem_core import __version__
from irem_core.cli import data, evaluate, nested, plugins_command, train
from irem_core.errors import IremError, PluginError
from irem_core.plugins.manager import PLUGIN_FAILURES, Plugins, resolve_plugins
from irem_core.plugins.registry import Component
from irem_core.runs.files import path_error
from irem_core.training.allocator import keep_freed_memory
from irem_core.training.distributed import under_torchrun
from irem_core.training.outcome import (
    TrainingStopped,
    signal_exit,
    signal_name,
    stop_on_signals,
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

    for module in BUILT_IN:
        module.add_parser(commands)
    plugins = resolve_plugins(plugins)
    built_in = list(commands.choices)
    plugins.reserve("command", built_in, owner="a built-in irem command")
    for component in plugins.registries["command"].components():
        _add_plugin_command(commands, component, plugins)
    for name, message in plugins.registries["command"].clashes().items():
        if name not in built_in:
            _add_refused_command(commands, name, message)
    return parser


def _add_plugin_command(commands: Any, component: Component, plugins: Plugins) -> None:
    """Add the command ``component`` registers; a factory that raises marks only its plugin
    broken, and the command then says so."""
    command = commands.add_parser(component.name, help=component.meta.help)
    try:
        handler = component.factory(command)
    except PLUGIN_FAILURES as error:
        plugins.mark_broken(component.plugin, error)
        handler = _refusal(
            f"command {component.name!r} comes from plugin {component.plugin.describe()}, "
            f"which is broken: {plugins.problem(component.plugin.name)}"
        )
    command.set_defaults(handler=handler)


def _add_refused_command(commands: Any, name: str, message: str) -> None:
    """Add command ``name``, which two plugins registered: whatever its arguments, it fails
    with ``message`` (naming both)."""
    command = commands.add_parser(name, help="refused: registered by two plugins")
    command.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    command.set_defaults(handler=_refusal(message))


def _refusal(message: str) -> Callable[[argparse.Namespace], int]:
    """A command handler that fails with ``message`` (exit 2)."""

    def run(args: argparse.Namespace) -> int:
        raise PluginError(message)

    return run


BUILT_IN = (plugins_command, data, train, evaluate, nested)
"""The built-in commands' modules, each with ``add_parser(commands)``."""


def main(argv: Sequence[str] | None = None, *, plugins: Plugins | None = None) -> int:
    """Run the CLI with ``plugins`` (default: the installed plugins, loaded here once);
    returns the exit code. Every command finds them in ``args.plugins``.

    One signal policy from start to exit (see :func:`stop_on_signals`): Ctrl-C or SIGTERM
    ends any command with one line and exit status 130 or 143, never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with stop_on_signals():
        try:
            return _run(argv, plugins)
        except KeyboardInterrupt as interrupt:  # while the plugins load
            return _report_stop("irem", interrupt, f"stopped by {signal_name(interrupt)}")


def _run(argv: list[str], plugins: Plugins | None) -> int:
    """:func:`main` under its signal policy."""
    keep_freed_memory()
    try:
        parser = build_parser(plugins)
    except PluginError as error:  # IREM_STRICT_PLUGINS and a broken plugin
        print(f"irem: error: {error}", file=sys.stderr)
        return 2
    plugins = resolve_plugins(plugins)
    args = parser.parse_args(argv)
    args.argv, args.plugins = argv, plugins
    where = f"irem {args.command}"
    try:
        return args.handler(args)
    except TrainingStopped as stopped:
        return _report_stop(where, stopped, str(stopped))
    except KeyboardInterrupt as interrupt:
        return _report_stop(where, interrupt, f"stopped by {signal_name(interrupt)}")
    except IremError as error:
        return _report_error(args, error)
    except OSError as error:
        path = _user_path(error, args)
        if path is None:  # not about a path the user gave: a bug, with its traceback
            raise
        return _report_error(args, path_error(error, path))


def _report_stop(where: str, interrupt: KeyboardInterrupt, message: str) -> int:
    """Print ``WHERE: MESSAGE`` for a stop (rank 0 alone under torchrun: every rank stops);
    returns 130 (SIGINT) or 143 (SIGTERM)."""
    if not under_torchrun() or os.environ.get("RANK", "0") == "0":
        print(f"{where}: {message}", file=sys.stderr)
    return signal_exit(interrupt)


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
