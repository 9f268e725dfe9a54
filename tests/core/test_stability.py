"""The plugin API's promise: moved names warn and still work, importing ``hookimpl`` stays
light, and ``irem plugins`` fails when an installed plugin is broken."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
import torch

import irem_core
from irem_core.cli.app import main
from irem_core.deprecation import MOVED_MODULES, MOVED_NAMES
from irem_core.plugins.manager import build_plugins, entry_point_sources
from irem_core.plugins.registry import PluginInfo
from irem_core.testing.optimizers import quadratic_energy


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_a_moved_core_module_imports_as_its_new_module_with_a_warning(old: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=MOVED_MODULES[old].replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED_MODULES[old])
    assert module.__spec__.name == MOVED_MODULES[old]


@pytest.mark.parametrize(
    ("package", "name"),
    [(package, name) for package, names in MOVED_NAMES.items() for name in names],
)
def test_a_name_of_a_module_that_became_a_package_still_imports_with_a_warning(
    package: str, name: str
) -> None:
    with pytest.warns(DeprecationWarning, match=f"{name} moved to"):
        value = getattr(importlib.import_module(package), name)
    assert value is getattr(importlib.import_module(MOVED_NAMES[package][name]), name)


@pytest.mark.parametrize(
    ("old", "name"),
    [
        ("irem_plugins.optimizers.descent", "DescentLoop"),
        ("irem_plugins.optimizers.descent", "DescentOptions"),
        ("irem_plugins.graph.batching", "GraphBatch"),
        ("irem_plugins.graph.batching", "complete_graphs"),
    ],
)
def test_a_plugin_written_against_0_1_0_imports_and_is_told_the_new_place(
    old: str, name: str
) -> None:
    with pytest.warns(DeprecationWarning, match=f"from irem_core import {name}|irem_core.{name}"):
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(irem_core, name)


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in irem_core.__all__:
        assert getattr(irem_core, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        irem_core.nothing_here  # noqa: B018


def test_importing_hookimpl_loads_neither_torch_nor_the_training_stack() -> None:
    code = (
        "import sys\nfrom irem_core import hookimpl, Register\n"
        "print([m for m in sys.modules if m == 'torch' or m.startswith('irem_core.training')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_irem_plugins_exits_non_zero_naming_the_broken_plugin_and_its_distribution(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken_loader() -> None:
        raise ModuleNotFoundError("No module named 'irem_plugins.optimizers.gone'")

    plugins = build_plugins(
        [*entry_point_sources(), (PluginInfo("oldplugin", "old-dist", "0.1"), broken_loader)]
    )
    assert main(["plugins"], plugins=plugins) == 1
    err = capsys.readouterr().err
    assert "'oldplugin' is broken" in err and "old-dist" in err and "gone" in err
    assert main(["plugins", "--json"], plugins=plugins) == 1
    report = json.loads(capsys.readouterr().out)
    assert {p["name"]: p["status"] for p in report["plugins"]}["oldplugin"] == "broken"


def test_a_0_1_0_optimizer_update_still_descends_and_is_told_the_new_signature() -> None:
    with pytest.warns(DeprecationWarning, match=r"update\(self, at: irem_core.DescentStep"):

        class OldStyle(irem_core.DescentLoop):
            def update(self, energy, answer, values, gradient, state, step, steps):
                return answer - self.options.step_size * gradient * (steps - step), state

    class NewStyle(irem_core.DescentLoop):
        def update(self, at, state):
            return at.answer - self.options.step_size * at.gradient * (at.count - at.index), state

    energy, y0 = quadratic_energy(1.0)
    trajectories = [
        optimizer(irem_core.DescentOptions(step_size=0.1)).run(energy, y0, 4, record=True)
        for optimizer in (OldStyle, NewStyle)
    ]
    assert torch.equal(trajectories[0].answers, trajectories[1].answers)
    assert trajectories[0].energies[-1].sum() < trajectories[0].energies[0].sum()
