"""The energy contract is checked at the boundary, naming the plugin."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from irem_core.cli.app import main
from irem_core.errors import PluginError
from irem_core.plugins.hookspecs import hookimpl
from irem_core.plugins.manager import build_plugins, entry_point_sources, module_plugin, set_plugins
from irem_core.reasoning.energy import BoundEnergy, energy_and_gradient


class WrongShape(nn.Module):
    def forward(self, context: None, answer: Tensor) -> Tensor:
        return (answer**2).sum(-1, keepdim=True)


class Detached(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))

    def forward(self, context: None, answer: Tensor) -> Tensor:
        return self.weight * answer.detach().sum(-1)


def test_wrong_energy_shape_names_the_plugin_and_expected_shape() -> None:
    energy = BoundEnergy(WrongShape(), None, torch.arange(4), 4, "'wrongshape'")
    with pytest.raises(
        PluginError, match=r"'wrongshape' returned energies of shape \(4, 1\); expected \(4,\)"
    ):
        energy_and_gradient(energy, torch.zeros(4, 3, requires_grad=True), create_graph=False)


def test_energy_detached_from_the_answer_is_an_error() -> None:
    energy = BoundEnergy(Detached(), None, torch.arange(2), 2, "'detached'")
    with pytest.raises(
        PluginError, match="'detached' returned energies that do not depend on the answer"
    ):
        energy_and_gradient(energy, torch.zeros(2, 3, requires_grad=True), create_graph=False)


class WrongShapeModel(WrongShape):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))

    def encode(self, inputs: Tensor) -> None:
        return None


class Parameterless(WrongShape):
    def encode(self, inputs: Tensor) -> None:
        return None


class DetachedModel(Detached):
    def encode(self, inputs: Tensor) -> None:
        return None


@hookimpl
def irem_register_energy_models(register) -> None:
    register("wrongshape", lambda options, task: WrongShapeModel(), domain="vector")
    register("detached", lambda options, task: DetachedModel(), domain="vector")
    register("parameterless", lambda options, task: Parameterless(), domain="vector")


@pytest.mark.parametrize(
    "energy, message",
    [
        (
            "wrongshape",
            r"energy model 'wrongshape' \(plugin broken_energies\) returned energies of "
            r"shape \(8, 1\); expected \(8,\)",
        ),
        (
            "detached",
            r"energy model 'detached' \(plugin broken_energies\) returned energies that do "
            r"not depend on the answer",
        ),
        ("parameterless", r"solver 'irem' built for task 'addition' has no trainable parameters"),
    ],
)
def test_training_with_a_broken_energy_plugin_exits_2_and_writes_nothing(
    tmp_path: Path,
    tiny_overrides: list[str],
    capsys: pytest.CaptureFixture[str],
    energy: str,
    message: str,
) -> None:
    this_module = sys.modules[__name__]
    plugins = build_plugins(entry_point_sources() + [module_plugin(this_module, "broken_energies")])
    sets = [
        word
        for override in tiny_overrides
        if not override.startswith("solver.energy")
        for word in ("--set", override)
    ]
    previous = set_plugins(plugins)
    try:
        code = main(
            [
                "train",
                "--task",
                "addition",
                "--out",
                str(tmp_path / "run"),
                "--no-progress",
                *sets,
                "--set",
                f"solver.energy={{name='{energy}'}}",
            ]
        )
    finally:
        set_plugins(previous)
    assert code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not list((tmp_path / "run").glob("*"))
