"""The plugin manager: discovery, duplicate names, broken plugins, misspelled hooks."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import attrs
import pytest

from irem_core import hookimpl
from irem_core.cli.app import main
from irem_core.config.convert import structure
from irem_core.config.schema import SolverSpec, TaskSpec
from irem_core.errors import IremError, PluginError
from irem_core.plugins import hookspecs
from irem_core.plugins.manager import (
    Plugins,
    build_plugins,
    entry_point_sources,
    load_plugins,
    module_plugin,
    set_plugins,
)
from irem_core.plugins.metadata import COMPONENT_KINDS
from irem_core.plugins.registry import PluginInfo
from irem_core.runs.build import build_solver, build_task, sized_task


@attrs.define
class ToyOptions:
    width: int = 1


def toy_task(options: ToyOptions) -> str:
    return f"toy{options.width}"


def plugin_module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def registers_task(task_name: str, factory=toy_task) -> types.ModuleType:
    def irem_register_tasks(register):
        register(task_name, factory, config=ToyOptions, domain="vector")

    return plugin_module(f"plugin_{task_name}", irem_register_tasks=irem_register_tasks)


def test_components_are_found_by_kind_and_name() -> None:
    plugins = build_plugins([module_plugin(registers_task("toy"), "toys")])
    component = plugins.get("task", "toy")
    assert component.factory(ToyOptions(3)) == "toy3"
    assert component.plugin.name == "toys"
    assert plugins.registered["toys"] == {"task": ["toy"]}


def test_duplicate_names_are_an_error_naming_both_plugins() -> None:
    def other_factory(options):
        return "other"

    sources = [
        (PluginInfo("first", "dist-a", "1.0"), lambda: registers_task("toy")),
        (PluginInfo("second", "dist-b", "2.0"), lambda: registers_task("toy", other_factory)),
    ]
    plugins = build_plugins(sources)
    for plugin in ("first", "second"):
        message = plugins.problem(plugin)
        assert "first (dist-a 1.0)" in message and "second (dist-b 2.0)" in message


def test_same_object_registered_twice_is_a_no_op() -> None:
    def irem_register_tasks(register):
        register("toy", toy_task, config=ToyOptions)
        register("toy", toy_task, config=ToyOptions)

    twice = plugin_module("twice", irem_register_tasks=irem_register_tasks)
    plugins = build_plugins([module_plugin(twice, "twice")])
    assert plugins.infos["twice"].error is None
    assert plugins.get("task", "toy").factory is toy_task


def test_a_plugin_that_fails_to_import_is_recorded_and_the_rest_work() -> None:
    def broken_loader():
        raise ImportError("No module named 'missing_dependency'")

    plugins = build_plugins(
        [
            (PluginInfo("broken", "broken-dist", "0.1"), broken_loader),
            module_plugin(registers_task("toy"), "toys"),
        ]
    )
    assert plugins.get("task", "toy").factory is toy_task
    assert "missing_dependency" in plugins.infos["broken"].error
    with pytest.raises(PluginError, match=r"broken \(broken-dist 0.1\) failed to load"):
        plugins.get("task", "sorting")


def test_a_plugin_that_raises_in_a_hook_is_broken_and_its_components_raise() -> None:
    def irem_register_tasks(register):
        register("half", toy_task, config=ToyOptions)
        raise RuntimeError("boom in hook")

    bad = plugin_module("bad", irem_register_tasks=irem_register_tasks)
    plugins = build_plugins(
        [module_plugin(bad, "bad"), module_plugin(registers_task("toy"), "toys")]
    )
    assert plugins.get("task", "toy").factory is toy_task
    with pytest.raises(PluginError, match="boom in hook"):
        plugins.get("task", "half")


def test_a_misspelled_hook_is_caught_by_check_pending() -> None:
    def irem_register_task(register):
        register("toy", toy_task)

    typo = plugin_module("typo", irem_register_task=irem_register_task)
    plugins = build_plugins([module_plugin(typo, "typo")])
    assert "irem_register_task" in plugins.infos["typo"].error


def test_config_class_must_be_attrs() -> None:
    class NotAttrs:
        pass

    def irem_register_tasks(register):
        register("toy", toy_task, config=NotAttrs)

    plugins = build_plugins(
        [module_plugin(plugin_module("x", irem_register_tasks=irem_register_tasks), "x")]
    )
    assert "not an attrs class" in plugins.infos["x"].error


def test_strict_mode_raises_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IREM_STRICT_PLUGINS", "1")

    def broken_loader():
        raise ImportError("nope")

    with pytest.raises(PluginError, match="IREM_STRICT_PLUGINS"):
        build_plugins([(PluginInfo("broken"), broken_loader)])


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny installed distribution 'irem-toy' whose entry point 'toy' is a module on sys.path."""
    (tmp_path / "irem_toy_plugin.py").write_text(
        "import attrs\nfrom irem_core import hookimpl\n\n"
        "@attrs.define\nclass Options:\n    width: int = 2\n\n"
        "def factory(options):\n    return options.width\n\n"
        "@hookimpl\ndef irem_register_tasks(register):\n"
        "    register('toy', factory, config=Options, domain='vector')\n"
    )
    dist_info = tmp_path / "irem_toy-0.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: irem-toy\nVersion: 0.3\n")
    (dist_info / "entry_points.txt").write_text("[irem]\ntoy = irem_toy_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("irem_toy_plugin", None)


def test_entry_points_of_an_installed_distribution_are_loaded(fake_distribution: Path) -> None:
    plugins = build_plugins(entry_point_sources())
    info = plugins.infos["toy"]
    assert (info.distribution, info.version, info.error) == ("irem-toy", "0.3", None)
    assert plugins.get("task", "toy").factory(plugins.get("task", "toy").config()) == 2
    assert plugins.get("task", "addition").plugin.name == "matrix"


def test_env_switches_select_and_block_plugins(
    fake_distribution: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IREM_BLOCK_PLUGINS", "toy")
    assert "toy" not in {info.name for info, _ in entry_point_sources()}
    monkeypatch.delenv("IREM_BLOCK_PLUGINS")
    monkeypatch.setenv("IREM_PLUGINS", "toy,matrix")
    assert {info.name for info, _ in entry_point_sources()} == {"toy", "matrix"}


def test_load_plugins_is_lazy_and_idempotent() -> None:
    previous = set_plugins(None)
    try:
        first = load_plugins()
        assert load_plugins() is first
        assert "addition" in first.registries["task"].names()
    finally:
        set_plugins(previous)


def test_a_clashing_name_is_an_error_for_both_plugins_not_a_silent_winner() -> None:
    def impostor(options):
        return "impostor"

    sources = [
        (PluginInfo("aaa_impostor", "evil", "0.1"), lambda: registers_task("toy", impostor)),
        (PluginInfo("toys", "irem", "0.1.0"), lambda: registers_task("toy")),
    ]
    plugins = build_plugins(sources)
    with pytest.raises(
        PluginError, match=r"registered twice: by plugin aaa_impostor .* and by plugin toys"
    ):
        plugins.get("task", "toy")


def test_a_run_refuses_components_from_another_plugin_than_it_was_trained_with(
    run_dir: Path, tiny_config
) -> None:
    from irem_core.runs.load import load_run
    from irem_core.training.loop import train

    train(tiny_config, run_dir, progress=False)
    record = json.loads((run_dir / "config.json").read_text())
    record["components"]["task:addition"] = "someone_else"
    (run_dir / "config.json").write_text(json.dumps(record))
    with pytest.raises(
        PluginError,
        match="trained with task 'addition' from plugin 'someone_else', "
        "but task 'addition' now comes from plugin matrix",
    ):
        load_run(run_dir)


def test_a_plugin_that_calls_sys_exit_at_import_is_broken_not_the_end_of_the_command() -> None:
    def exiting_loader():
        sys.exit(0)

    plugins = build_plugins(
        [
            (PluginInfo("quitter", "quitter-dist", "0.1"), exiting_loader),
            module_plugin(registers_task("toy"), "toys"),
        ]
    )
    assert plugins.get("task", "toy").factory is toy_task
    assert "SystemExit" in plugins.infos["quitter"].error


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"size_opton": "nodes"}, r"unknown metadata 'size_opton' \(task takes domain, presets"),
        ({"size_option": 3}, r"'size_option' must be <class 'str'>"),
        ({"presets": {"quick": 1}}, r"'presets'"),
    ],
)
def test_registration_metadata_is_typed_and_a_bad_key_breaks_the_plugin_naming_it(
    meta: dict, message: str
) -> None:
    def irem_register_tasks(register):
        register("toy", toy_task, config=ToyOptions, **meta)

    plugins = build_plugins(
        [module_plugin(plugin_module("typo", irem_register_tasks=irem_register_tasks), "typo")]
    )
    error = plugins.infos["typo"].error
    assert error is not None and "plugin typo registered task 'toy' with bad metadata" in error
    assert re.search(message, error), error


def test_registration_metadata_reads_as_attributes_with_defaults() -> None:
    plugins = build_plugins([module_plugin(registers_task("toy"), "toys")])
    meta = plugins.get("task", "toy").meta
    assert (meta.domain, meta.size_option, meta.nested, dict(meta.presets)) == (
        "vector",
        None,
        None,
        {},
    )


def test_every_component_kind_has_its_hook_and_every_hook_a_kind() -> None:
    hooks = {name for name in dir(hookspecs) if name.startswith("irem_register_")}
    assert hooks == {kind.hook for kind in COMPONENT_KINDS.values()}


def test_a_solver_is_refused_for_a_task_domain_it_does_not_declare() -> None:
    task = build_task(structure({"name": "addition", "size": 2}, TaskSpec))
    task.domain = "sudoku"
    with pytest.raises(IremError, match=r"serves 'vector' and 'graph' tasks; .* 'sudoku' task"):
        build_solver(structure({"name": "feedforward"}, SolverSpec), task, 0)


def test_sizes_refuse_a_size_that_changes_what_the_model_reads() -> None:
    addition = load_plugins().get("task", "addition")

    def irem_register_tasks(register):
        register("sized_addition", addition.factory, config=addition.config, size_option="size")

    plugins = build_plugins(
        [module_plugin(plugin_module("sized", irem_register_tasks=irem_register_tasks), "sized")]
    )
    spec = structure({"name": "sized_addition", "size": 3}, TaskSpec, plugins=plugins)
    assert sized_task(spec, 3, plugins=plugins).answer_features == 9
    with pytest.raises(IremError, match=r"size = 4 has answer rows of 16 features.*\(size = 3\)"):
        sized_task(spec, 4, plugins=plugins)


def registers_command(command_name: str, factory) -> types.ModuleType:
    def irem_register_commands(register):
        register(command_name, factory, help="an impostor")

    return plugin_module(f"plugin_{command_name}", irem_register_commands=irem_register_commands)


def add_impostor(parser):
    parser.add_argument("run")
    return lambda args: 0


def with_installed(*sources) -> Plugins:
    """The installed plugins and ``sources``, in entry-point (name) order."""
    return build_plugins(sorted([*sources, *entry_point_sources()], key=lambda s: s[0].name))


def test_a_plugin_command_clashing_with_another_plugins_is_refused_to_both(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plugins = with_installed(
        (PluginInfo("aaa_plot", "evil", "0.1"), lambda: registers_command("plot", add_impostor))
    )
    assert main(["plot", "somerun"], plugins=plugins) == 2
    err = capsys.readouterr().err
    assert "command name 'plot' is registered twice: by plugin aaa_plot (evil 0.1)" in err
    assert "by plugin experiments" in err
    assert "reproduce" in plugins.registries["command"].names()  # the rest of its plugin works
    assert main(["plugins"], plugins=plugins) == 1
    err = capsys.readouterr().err
    assert "plugin 'aaa_plot' is broken (command name 'plot' is registered twice" in err
    assert "plugin 'experiments' is broken (command name 'plot'" in err


def test_a_plugin_command_named_as_a_built_in_one_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plugins = with_installed(
        (PluginInfo("impostor", "evil", "0.1"), lambda: registers_command("train", add_impostor))
    )
    assert main(["plugins"], plugins=plugins) == 1
    assert "train" not in plugins.registries["command"].names()
    err = capsys.readouterr().err
    assert (
        "command name 'train' is a built-in irem command, so plugin impostor (evil 0.1) "
        "cannot register it"
    ) in err
    out = tmp_path / "problems.safetensors"
    assert main(["data", "addition", "-n", "2", "--out", str(out)], plugins=plugins) == 0
    assert out.is_file()


def test_a_command_factory_that_raises_breaks_only_its_plugin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def exploding(parser):
        raise RuntimeError("boom")

    plugins = with_installed(
        (PluginInfo("exploding", "bad", "0.1"), lambda: registers_command("explode", exploding))
    )
    assert main(["explode"], plugins=plugins) == 2
    assert (
        "command 'explode' comes from plugin exploding (bad 0.1), which is broken: "
        "RuntimeError: boom" in capsys.readouterr().err
    )
    assert main(["plugins"], plugins=plugins) == 1
    assert "plugin 'exploding' is broken (RuntimeError: boom)" in capsys.readouterr().err
    assert plugins.infos["experiments"].error is None


def test_strict_mode_with_a_broken_plugin_is_a_start_up_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_loader():
        raise ImportError("no module named 'gone'")

    monkeypatch.setenv("IREM_STRICT_PLUGINS", "1")
    monkeypatch.setattr(
        "irem_core.plugins.manager.entry_point_sources",
        lambda: [(PluginInfo("broken", "broken-dist", "0.1"), broken_loader)],
    )
    previous = set_plugins(None)
    try:
        assert main(["plugins"]) == 2
    finally:
        set_plugins(previous)
    assert "irem: error: plugin broken (broken-dist 0.1) is broken (IREM_STRICT_PLUGINS" in (
        capsys.readouterr().err
    )


def test_a_plugin_raising_keyboard_interrupt_at_import_is_broken_not_the_end() -> None:
    def interrupting_loader():
        raise KeyboardInterrupt

    plugins = build_plugins(
        [
            (PluginInfo("interrupter", "dist", "0.1"), interrupting_loader),
            module_plugin(registers_task("toy"), "toys"),
        ]
    )
    assert plugins.get("task", "toy").factory is toy_task
    assert "KeyboardInterrupt" in plugins.infos["interrupter"].error
