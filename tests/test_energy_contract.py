"""The energy contract is checked at the boundary, naming the plugin."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from irem_core.energy import BoundEnergy, energy_and_gradient
from irem_core.errors import PluginError


class WrongShape(nn.Module):
    def forward(self, context: None, answer: Tensor) -> Tensor:
        return (answer ** 2).sum(-1, keepdim=True)


class Detached(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))

    def forward(self, context: None, answer: Tensor) -> Tensor:
        return self.weight * answer.detach().sum(-1)


def test_wrong_energy_shape_names_the_plugin_and_expected_shape() -> None:
    energy = BoundEnergy(WrongShape(), None, torch.arange(4), 4, "wrongshape")
    with pytest.raises(PluginError, match=r"'wrongshape' returned energies of shape \(4, 1\); expected \(4,\)"):
        energy_and_gradient(energy, torch.zeros(4, 3, requires_grad=True), create_graph=False)


def test_energy_detached_from_the_answer_is_an_error() -> None:
    energy = BoundEnergy(Detached(), None, torch.arange(2), 2, "detached")
    with pytest.raises(PluginError, match="'detached' returned energies that do not depend on the answer"):
        energy_and_gradient(energy, torch.zeros(2, 3, requires_grad=True), create_graph=False)
