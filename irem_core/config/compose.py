"""Composing a run's config: the task's preset, then a TOML/JSON file, then ``--set`` overrides."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from irem_core.config.convert import structure
from irem_core.config.schema import RunConfig
from irem_core.errors import ConfigError
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.textfile import TOMLDecodeError, parse_json, parse_toml, read_text


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a ``.toml`` or ``.json`` config file into a dict."""
    path = Path(path)
    try:
        text = read_text(path)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        data = parse_json(text, path) if path.suffix == ".json" else parse_toml(text, path)
    except (json.JSONDecodeError, TOMLDecodeError) as error:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ConfigError(f"config file {path} is not valid {kind}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table/object at the top level")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``key.path=value``; the value is read as TOML, else kept as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value (e.g. train.iterations=100), got {text!r}")
    try:
        value = parse_toml(f"value = {raw}", f"--set {key.strip()}")["value"]
    except TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``data[path[0]][path[1]]... = value``, creating tables on the way."""
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def override_saved(data: dict[str, Any], overrides: Sequence[str]) -> None:
    """Apply ``--set`` overrides to a saved config ``data`` (in place).

    An override that changes a component's ``name`` (e.g. ``solver.optimizer.name=momentum``)
    replaces that component's whole table by ``{name}`` first, so the new component starts
    from its own defaults and not from options of the one it replaces; then every override
    applies, so the options set alongside the name are kept.
    """
    parsed = [parse_override(text) for text in overrides]
    for path, value in parsed:
        if path[-1] != "name" or len(path) < 2:
            continue
        table: Any = data
        for part in path[:-1]:
            table = table.get(part) if isinstance(table, dict) else None
        if isinstance(table, dict) and table.get("name") != value:
            set_path(data, path[:-1], {"name": value})
    for path, value in parsed:
        set_path(data, path, value)


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``override`` merged in, table by table."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def preset_overrides(
    task_name: str, solver_name: str, preset: str, *, plugins: Plugins
) -> dict[str, Any]:
    """The overrides the task's ``preset`` makes for ``solver_name`` (a nested dict)."""
    component = plugins.get("task", task_name)
    presets: dict[str, dict[str, Any]] = component.meta.presets
    if preset not in presets:
        raise ConfigError(
            f"task {component.name!r} has no preset {preset!r}; "
            f"available: {', '.join(sorted(presets)) or '(none)'}"
        )
    chosen = copy.deepcopy(presets[preset])
    solver_sections = chosen.pop("solvers", {})
    if solver_name in solver_sections:
        chosen["solver"] = solver_sections[solver_name]
    return chosen


def default_solver(*, plugins: Plugins) -> str:
    """The solver a config gets when it names none: the one registered with ``default=True``."""
    defaults = [
        component.name
        for component in plugins.registries["solver"].components()
        if component.meta.default
    ]
    if len(defaults) != 1:
        raise ConfigError(
            f"no solver chosen and {len(defaults)} solvers are registered as the "
            f"default ({', '.join(defaults) or 'none'}); pass --solver NAME"
        )
    return defaults[0]


def build_run_config(
    *,
    task: str | None = None,
    solver: str | None = None,
    preset: str = "paper",
    file_data: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    device: str | None = None,
    plugins: Plugins | None = None,
) -> RunConfig:
    """Compose a :class:`RunConfig` from a preset, a config file, overrides and flags, with
    the components of ``plugins`` (default: the installed plugins)."""
    plugins = resolve_plugins(plugins)
    data = merge({}, file_data or {})
    for path, value in map(parse_override, overrides):
        set_path(data, path, value)
    if task is not None:
        set_path(data, ["task", "name"], task)
    if solver is not None:
        set_path(data, ["solver", "name"], solver)
    for section in ("task", "solver"):
        if not isinstance(data.setdefault(section, {}), dict):
            raise ConfigError(f"{section} must be a table with a 'name' key, got {data[section]!r}")
    for section in ("train", "eval"):
        if not isinstance(data.get(section, {}), dict):
            example = "iterations" if section == "train" else "problems"
            raise ConfigError(
                f"{section} is a table of options, got {data[section]!r}; set one "
                f"of its keys, e.g. --set {section}.{example}=3"
            )
    data["solver"].setdefault("name", default_solver(plugins=plugins))
    task_name, solver_name = data["task"].get("name"), data["solver"]["name"]
    if not isinstance(task_name, str):
        raise ConfigError("no task chosen: pass --task NAME or set task.name in the config file")
    if not isinstance(solver_name, str):
        raise ConfigError(f"solver.name must be a string, got {solver_name!r}")
    data = merge(preset_overrides(task_name, solver_name, preset, plugins=plugins), data)
    if seed is not None:
        data["seed"] = seed
    if device is not None:
        data["device"] = device
    return structure(data, RunConfig, plugins=plugins)
