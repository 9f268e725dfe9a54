"""The plugins travel as an argument: what is given is used, the installed ones are never
consulted behind its back; hooks and commands receive it; configs are frozen."""

from __future__ import annotations

import argparse
import types
from pathlib import Path
from typing import Any

import attrs
import pytest

import irem_core.plugins.manager
from irem_core import hookimpl
from irem_core.cli.app import main
from irem_core.config.compose import build_run_config
from irem_core.config.convert import converter_for, structure
from irem_core.config.schema import RunConfig, TrainConfig, default_loggers
from irem_core.plugins.manager import Plugins, build_plugins, entry_point_sources, module_plugin
from irem_core.runs.load import load_run


@pytest.fixture
def installed_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any fallback to the installed plugins fails the test."""

    def unreachable() -> Plugins:
        raise AssertionError("the installed plugins were loaded, not the ones passed")

    monkeypatch.setattr(irem_core.plugins.manager, "load_plugins", unreachable)


@pytest.fixture
def given() -> Plugins:
    """A fresh copy of the installed plugins, distinct from the cached ones."""
    return build_plugins(entry_point_sources())


@attrs.frozen
class ShoutOptions:
    loudness: int = 3


def shout(options: ShoutOptions) -> str:
    return "shout"


def one_plugin(**hooks: Any) -> types.ModuleType:
    module = types.ModuleType("context_test_plugin")
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return module


def test_a_hook_naming_plugins_receives_the_plugins_being_built() -> None:
    seen: list[Plugins] = []

    def irem_register_tasks(register: Any, plugins: Plugins) -> None:
        seen.append(plugins)
        register("shout", shout, config=ShoutOptions, domain="vector")

    plugins = build_plugins(
        [module_plugin(one_plugin(irem_register_tasks=irem_register_tasks), "shouting")]
    )
    assert seen == [plugins] and seen[0] is plugins
    assert plugins.get("task", "shout").factory(ShoutOptions()) == "shout"
    assert plugins.infos["shouting"].error is None


@pytest.mark.usefixtures("installed_unreachable")
def test_configs_runs_and_commands_use_only_the_plugins_given(
    given: Plugins, tiny_overrides: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = build_run_config(task="addition", preset="quick", plugins=given)
    assert config.solver.options.optimizer.name == "gd"
    assert config.train.loggers is None and default_loggers(given) == ["jsonl"]
    data = {"task": {"name": "addition"}, "solver": {"name": "irem", "energy": {"name": "mlp"}}}
    assert structure(data, RunConfig, plugins=given).train.loggers is None
    run = tmp_path / "run"
    sets = [
        word for override in [*tiny_overrides, "train.iterations=2"] for word in ("--set", override)
    ]
    assert (
        main(
            ["train", "--task", "addition", "--out", str(run), "--no-progress", *sets],
            plugins=given,
        )
        == 0
    )
    assert main(["eval", str(run), "-n", "4", "--steps", "2"], plugins=given) == 0
    assert main(["nested", str(run), "--depth", "2", "-n", "4", "--steps", "2"], plugins=given) == 0
    assert (
        main(
            [
                "data",
                "addition",
                "--set",
                "task.size=3",
                "-n",
                "4",
                "--out",
                str(tmp_path / "data.safetensors"),
            ],
            plugins=given,
        )
        == 0
    )
    assert main(["plugins"], plugins=given) == 0
    assert load_run(run, plugins=given).iteration == 2
    assert "error" not in capsys.readouterr().err


def test_defaults_that_depend_on_the_plugins_come_from_the_plugins_given() -> None:
    class Printer:
        def __init__(self, run: Any) -> None: ...
        def log(self, iteration: int, values: Any) -> None: ...
        def close(self) -> None: ...

    @attrs.frozen
    class OwnDescent:
        step_size: float = 1.0

    def irem_register_loggers(register: Any) -> None:
        register("printer", Printer, default=True)

    def irem_register_optimizers(register: Any) -> None:
        register("gd", lambda options: None, config=OwnDescent)

    sources = [
        source
        for source in entry_point_sources()
        if source[0].name not in ("loggers", "optimizers")
    ]
    plugins = build_plugins(
        [
            *sources,
            module_plugin(
                one_plugin(
                    irem_register_loggers=irem_register_loggers,
                    irem_register_optimizers=irem_register_optimizers,
                ),
                "own",
            ),
        ]
    )
    data = {"task": {"name": "addition"}, "solver": {"name": "irem", "energy": {"name": "mlp"}}}
    config = structure(data, RunConfig, plugins=plugins)
    assert config.train.loggers is None and default_loggers(plugins) == ["printer"]
    assert config.solver.options.optimizer.options == OwnDescent()
    installed = structure(data, RunConfig)
    assert installed.train.loggers is None  # the default loggers, resolved when training
    assert type(installed.solver.options.optimizer.options).__name__ == "GradientDescentConfig"
    assert TrainConfig().loggers is None


def test_each_plugins_has_its_own_converter(given: Plugins) -> None:
    assert converter_for(given) is converter_for(given)
    assert converter_for(given) is not converter_for(build_plugins(entry_point_sources()))


def test_a_plugin_command_finds_the_plugins_in_its_arguments(given: Plugins) -> None:
    received: list[Plugins] = []

    def add_command(parser: argparse.ArgumentParser) -> Any:
        def run(args: argparse.Namespace) -> int:
            received.append(args.plugins)
            return 0

        return run

    def irem_register_commands(register: Any) -> None:
        register("whoami", add_command, help="says which plugins it got")

    plugins = build_plugins(
        [
            *entry_point_sources(),
            module_plugin(
                one_plugin(irem_register_commands=irem_register_commands), "commands_test"
            ),
        ]
    )
    assert main(["whoami"], plugins=plugins) == 0
    assert received == [plugins] and received[0] is plugins
    with pytest.raises(SystemExit):  # another set of plugins: no such command
        main(["whoami"], plugins=given)


def test_configs_are_frozen_and_changed_with_evolve() -> None:
    config = build_run_config(task="addition", preset="quick")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.train.lr = 1.0  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.solver.name = "other"  # type: ignore[misc]
    changed = attrs.evolve(config, train=attrs.evolve(config.train, lr=1.0))
    assert (changed.train.lr, config.train.lr) == (
        1.0,
        build_run_config(task="addition", preset="quick").train.lr,
    )


def test_set_plugins_still_replaces_the_default(given: Plugins) -> None:
    """Code that takes the default plugins (``plugins=None``) sees what ``set_plugins`` set."""
    previous = irem_core.plugins.manager.set_plugins(given)
    try:
        assert irem_core.plugins.manager.resolve_plugins(None) is given
    finally:
        irem_core.plugins.manager.set_plugins(previous)
