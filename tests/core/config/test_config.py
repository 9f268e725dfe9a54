"""Configs: round trips, strict keys and types, overrides, presets, files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from irem_core import hookimpl
from irem_core.config.compose import build_run_config, parse_override, read_config_file
from irem_core.config.convert import structure, unstructure
from irem_core.config.schema import EvalConfig, RunConfig, TrainConfig
from irem_core.errors import ConfigError, IremError, PluginError
from irem_core.plugins.manager import Plugins, build_plugins, entry_point_sources, module_plugin

train_configs = st.builds(
    TrainConfig,
    iterations=st.integers(1, 10**6),
    batch_size=st.integers(1, 4096),
    replay_batch_size=st.integers(0, 4096),
    steps=st.integers(1, 100),
    lr=st.floats(1e-8, 1.0),
    eval_every=st.integers(0, 1000),
)
eval_configs = st.builds(
    EvalConfig,
    steps=st.lists(st.integers(1, 200), min_size=1, max_size=5),
    problems=st.integers(1, 10_000),
)


@given(
    train=train_configs,
    evaluation=eval_configs,
    seed=st.integers(0, 2**31),
    size=st.integers(2, 30),
    hidden=st.integers(1, 1024),
    step_size=st.floats(1e-3, 1e3),
    task=st.sampled_from(["addition", "completion", "inverse"]),
)
def test_structure_unstructure_round_trip(
    train: TrainConfig,
    evaluation: EvalConfig,
    seed: int,
    size: int,
    hidden: int,
    step_size: float,
    task: str,
) -> None:
    config = build_run_config(
        task=task,
        overrides=[
            f"task.size={size}",
            f"solver.energy.hidden={hidden}",
            f"solver.optimizer.step_size={step_size}",
        ],
        seed=seed,
    )
    config = attrs.evolve(config, train=train, eval=evaluation)
    data = unstructure(config)
    assert structure(json.loads(json.dumps(data)), RunConfig) == config


def test_paper_preset_is_the_release_setting() -> None:
    config = build_run_config(task="addition")
    assert (config.train.batch_size, config.train.replay_batch_size, config.train.steps) == (
        512,
        512,
        10,
    )
    assert (config.train.lr, config.train.iterations, config.train.replay_capacity) == (
        1e-4,
        10_000,
        10_000,
    )
    assert config.solver.options.optimizer.options.step_size == 100.0
    assert config.eval.steps == [10, 20, 40, 80]
    assert config.task.options.size == 20


def test_unknown_key_names_the_key_and_the_valid_keys() -> None:
    with pytest.raises(ConfigError) as error:
        build_run_config(task="addition", overrides=["train.iteratons=5"])
    message = str(error.value)
    assert "train" in message and "iteratons" in message and "iterations" in message


def test_unknown_key_inside_a_plugin_section() -> None:
    with pytest.raises(ConfigError, match=r"task: unknown key\(s\) sise; valid keys: size"):
        build_run_config(task="addition", overrides=["task.sise=5"])


@pytest.mark.parametrize(
    "override, key, expected",
    [
        ("train.iterations='many'", "train.iterations", "expected int"),
        ("train.iterations=2.5", "train.iterations", "expected int"),
        ("train.lr=true", "train.lr", "expected float"),
        ("solver.optimizer.full_backprop=1", "solver.optimizer.full_backprop", "expected bool"),
        ("eval.steps=[10,'x']", "eval.steps[1]", "expected int"),
        ("train.iterations=0", "train.iterations", "must be > 0"),
        ("train.lr=nan", "train.lr", "expected a finite number"),
        (
            "solver.optimizer.step_size=inf",
            "solver.optimizer.step_size",
            "expected a finite number",
        ),
    ],
)
def test_wrong_type_or_value_names_key_and_expectation(
    override: str, key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        build_run_config(task="addition", overrides=[override])
    assert key in str(error.value) and expected in str(error.value)


def test_unknown_component_lists_valid_names() -> None:
    with pytest.raises(
        PluginError, match="unknown task 'additon'; valid names: addition, completion"
    ):
        build_run_config(task="additon")


def test_alias_resolves_to_the_canonical_name() -> None:
    assert build_run_config(task="lowrank").task.name == "completion"


def test_unknown_preset_lists_available() -> None:
    with pytest.raises(ConfigError, match="no preset 'fastest'; available: fast, paper, quick"):
        build_run_config(task="addition", preset="fastest")


def test_precedence_preset_then_file_then_set_then_flags() -> None:
    file_data = {"task": {"name": "addition", "size": 5}, "train": {"iterations": 7, "lr": 0.5}}
    config = build_run_config(
        preset="quick", file_data=file_data, overrides=["train.iterations=9"], seed=3
    )
    assert config.task.options.size == 5  # file beats preset (8)
    assert config.train.iterations == 9  # --set beats file
    assert config.train.lr == 0.5  # file beats preset (5e-4)
    assert config.train.batch_size == 256  # preset beats default
    assert config.seed == 3


def test_missing_task_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no task chosen"):
        build_run_config()


@pytest.mark.parametrize(
    "text, path, value",
    [
        ("train.iterations=100", ["train", "iterations"], 100),
        ("eval.steps=[1, 2]", ["eval", "steps"], [1, 2]),
        ("device=cuda", ["device"], "cuda"),
        ("solver.optimizer.full_backprop=true", ["solver", "optimizer", "full_backprop"], True),
    ],
)
def test_parse_override(text: str, path: list[str], value: object) -> None:
    assert parse_override(text) == (path, value)


def test_override_without_equals_is_an_error() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("train.iterations")


def test_config_files_toml_and_json(tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text('[task]\nname = "inverse"\nsize = 4\n[train]\nsteps = 3\n')
    (tmp_path / "run.json").write_text(
        '{"task": {"name": "inverse", "size": 4}, "train": {"steps": 3}}'
    )
    configs = [
        build_run_config(file_data=read_config_file(tmp_path / name))
        for name in ("run.toml", "run.json")
    ]
    assert configs[0] == configs[1]
    assert configs[0].train.steps == 3 and configs[0].task.options.size == 4


@pytest.mark.parametrize("name, text", [("bad.toml", "[task\nname="), ("bad.json", '{"task": ')])
def test_malformed_config_file(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match="is not valid"):
        read_config_file(tmp_path / name)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
config_keys = st.sampled_from(
    [
        "task",
        "solver",
        "train",
        "eval",
        "seed",
        "device",
        "task.size",
        "train.iterations",
        "train.lr",
        "eval.steps",
        "solver.energy",
        "solver.energy.hidden",
        "solver.optimizer",
        "solver.optimizer.halt",
        "solver.name",
        "task.name",
        "bogus",
        "train.bogus",
    ]
)


@given(entries=st.dictionaries(config_keys, json_values, max_size=5))
def test_fuzzed_configs_either_load_or_raise_a_clear_error(entries: dict[str, object]) -> None:
    from irem_core.config.compose import set_path
    from irem_core.errors import IremError

    data: dict[str, object] = {"task": {"name": "addition"}}
    for key, value in sorted(entries.items()):
        try:
            set_path(data, key.split("."), value)
        except TypeError:
            continue  # a scalar where a table was set earlier; not a config the user could write
    try:
        config = build_run_config(file_data=data)
    except IremError as error:
        assert str(error)
    else:
        assert structure(unstructure(config), RunConfig) == config


@attrs.define
class BuggyOptions:
    """A plugin's config class with a bug: it divides by zero when ``width`` is 0."""

    width: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    scale: float = attrs.field(init=False, default=0.0)

    def __attrs_post_init__(self) -> None:
        self.scale = 1 / self.width


@hookimpl
def irem_register_tasks(register: Any) -> None:
    register(
        "buggy_options",
        lambda options: None,
        config=BuggyOptions,
        domain="vector",
        presets={"paper": {}},
    )


@hookimpl
def irem_register_optimizers(register: Any) -> None:
    register("buggy_options", lambda options: None, config=BuggyOptions)


@pytest.fixture
def buggy_plugin() -> Plugins:
    """The installed plugins plus this module, as plugin ``buggy_configs``."""
    return build_plugins(
        entry_point_sources() + [module_plugin(sys.modules[__name__], "buggy_configs")]
    )


@pytest.mark.parametrize(
    "task, overrides, kind",
    [
        ("buggy_options", ["task.width=0"], "task"),
        (
            "addition",
            ["solver.optimizer.name='buggy_options'", "solver.optimizer.width=0"],
            "optimizer",
        ),
    ],
)
def test_a_config_class_bug_is_a_plugin_error_not_invalid_configuration(
    task: str, overrides: list[str], kind: str, buggy_plugin: Plugins
) -> None:
    with pytest.raises(PluginError) as caught:
        build_run_config(task=task, solver="irem", overrides=overrides, plugins=buggy_plugin)
    message = str(caught.value)
    assert "invalid configuration" not in message
    assert (
        f"{kind} 'buggy_options' of plugin buggy_configs has a broken config class BuggyOptions"
    ) in message
    assert "ZeroDivisionError" in message and "bug in the plugin" in message
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


@pytest.mark.parametrize(
    "override, expected",
    [
        ("task.width=-1", "task.width: must be >= 0: -1"),  # a validator's ValueError
        ("task.width='wide'", "task.width: expected int, got str 'wide'"),
        ("task.depth=1", "task: unknown key(s) depth"),
    ],
)
def test_bad_values_for_a_plugin_config_class_stay_invalid_configuration(
    override: str, expected: str, buggy_plugin: Plugins
) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as caught:
        build_run_config(
            task="buggy_options", solver="irem", overrides=[override], plugins=buggy_plugin
        )
    assert expected in str(caught.value)


def test_a_config_class_bug_outside_a_component_propagates() -> None:
    with pytest.raises(Exception) as caught:
        structure({"width": 0}, BuggyOptions)
    assert not isinstance(caught.value, IremError)
    assert any(
        isinstance(error, ZeroDivisionError)
        for error in getattr(caught.value, "exceptions", [caught.value])
    )


def test_building_train_and_eval_settings_loads_no_plugin() -> None:
    code = (
        "import sys\nfrom irem_core.config.schema import EvalConfig, TrainConfig\n"
        "TrainConfig(); EvalConfig()\n"
        "print(sorted(m for m in sys.modules if m.startswith('irem_plugins')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
