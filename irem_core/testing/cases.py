"""Contract cases: one per registered component, and :func:`check_config` for every options class."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import attrs
import pytest

from irem_core.config.convert import structure, unstructure
from irem_core.errors import PluginError
from irem_core.plugins.manager import (
    Plugins,
    build_plugins,
    entry_point_sources,
    module_plugin,
    resolve_plugins,
)
from irem_core.testing.energies import check_energy_model
from irem_core.testing.optimizers import check_optimizer
from irem_core.testing.support import Device, require, require_error
from irem_core.testing.tasks import check_task


def check_config(config: type, *, name: str | None = None, plugins: Plugins | None = None) -> None:
    """Check a component's options class: defaults, JSON round trip, strict keys (structured
    with ``plugins``, default: the installed plugins)."""
    label = f"config {name or config.__name__}"
    require(attrs.has(config), label, "must be an attrs class")
    try:
        default = config()
    except TypeError as error:
        raise AssertionError(f"{label}: every option needs a default ({error})") from None
    data = json.loads(json.dumps(unstructure(default)))
    require(
        structure(data, config, plugins=plugins) == default,
        label,
        "structure(unstructure(options)) must give back equal options through JSON",
    )
    require_error(
        lambda: structure({**data, "no_such_option": 1}, config, plugins=plugins),
        label,
        "an unknown option must be refused",
    )


@attrs.define(frozen=True, eq=False)
class ContractCase:
    """One registered component (an energy model paired with one task) to check.

    Attributes:
        kind: ``task``, ``energy_model`` or ``optimizer``.
        name: the component's registered name.
        task: for energy models, the task checked with.
        plugins: where to look both up (default: the installed plugins).
    """

    kind: str
    name: str
    task: str | None = None
    plugins: Plugins | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" + (f"@{self.task}" if self.task else "")

    def check(self, device: Device = "cpu") -> None:
        """Run the config check and the kind's contract check on ``device``."""
        plugins = resolve_plugins(self.plugins)
        component = plugins.get(self.kind, self.name)
        check_config(component.config, name=f"{self}", plugins=plugins)
        options = structure({}, component.config, plugins=plugins)
        if self.kind == "task":
            check_task(component.factory(options), device=device, name=self.name)
        elif self.kind == "optimizer":
            check_optimizer(lambda: component.factory(options), device=device, name=self.name)
        else:
            if self.task is None:
                raise PluginError(f"{self}: an energy model case needs the task to check it on")
            task_component = plugins.get("task", self.task)
            task = task_component.factory(structure({}, task_component.config, plugins=plugins))
            check_energy_model(
                lambda: component.factory(options, task), task, device=device, name=self.name
            )


PAIRINGS = ("either", "both")
"""Which (energy model, task) pairs :func:`component_cases` checks for a plugin: those where
either belongs to it, or only those where both do."""


def _cases(plugins: Plugins, plugin: str | None, pairs: str) -> Iterator[ContractCase]:
    registries = plugins.registries
    ours = lambda component: plugin is None or component.plugin.name == plugin
    paired = all if pairs == "both" else any
    for kind in ("task", "optimizer"):
        for component in registries[kind].components():
            if ours(component):
                yield ContractCase(kind, component.name)
    for model in registries["energy_model"].components():
        for task in registries["task"].components():
            serves = model.meta.tasks is None or task.name in model.meta.tasks
            if (
                task.meta.domain == model.meta.domain
                and serves
                and paired((ours(model), ours(task)))
            ):
                yield ContractCase("energy_model", model.name, task.name)


def component_cases(
    *, plugin: str | None = None, plugins: Plugins | None = None, pairs: str = "either"
) -> list[Any]:
    """``pytest.param`` s over registered tasks, optimizers and (energy model, task) pairs.

    Args:
        plugin: only components of this plugin (entry-point name); an energy model is paired
            with every task of its domain, and is included when either belongs to ``plugin``.
        plugins: where to look (default: the installed plugins, loaded now).
        pairs: ``"either"`` (the default: a pair is checked when its energy model *or* its
            task belongs to ``plugin``, so your energy meets every installed task of its
            domain) or ``"both"`` (only your energy models on your tasks).

    Returns:
        Parameters for ``@pytest.mark.parametrize("case", ...)``, each a
        :class:`ContractCase` with an id like ``task:addition`` or ``energy_model:mlp@sort``.
    """
    if pairs not in PAIRINGS:
        raise ValueError(f"pairs must be one of {PAIRINGS}, got {pairs!r}")
    source = resolve_plugins(plugins)
    return [
        pytest.param(ContractCase(case.kind, case.name, case.task, plugins), id=str(case))
        for case in _cases(source, plugin, pairs)
    ]


def plugins_with(*modules: ModuleType, installed: bool = True) -> Plugins:
    """Plugins built from ``modules`` (named after them), after the installed ones if asked."""
    sources = entry_point_sources() if installed else []
    return build_plugins(sources + [module_plugin(module, module.__name__) for module in modules])
