"""Binding an energy model to a batch, and the one place that checks the energy contract."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from irem_core.errors import PluginError


class BoundEnergy:
    """An energy model bound to encoded problems: maps answers ``(rows, F)`` to ``(B,)``.

    Args:
        model: the energy model (``encode`` already applied).
        context: ``model.encode(problems.inputs)``.
        num_problems: ``B``.
        source: the registered name of the model, used in error messages.
    """

    def __init__(self, model: nn.Module, context: Any, num_problems: int, source: str) -> None:
        self.model = model
        self.context = context
        self.num_problems = num_problems
        self.source = source

    def __call__(self, answer: Tensor) -> Tensor:
        energies = self.model(self.context, answer)
        if not isinstance(energies, Tensor) or energies.shape != (self.num_problems,):
            shape = tuple(energies.shape) if isinstance(energies, Tensor) else type(energies).__name__
            raise PluginError(f"energy model {self.source!r} returned energies of shape {shape}; "
                              f"expected ({self.num_problems},): one scalar per problem")
        return energies


def energy_and_gradient(energy: BoundEnergy, answer: Tensor, *,
                        create_graph: bool) -> tuple[Tensor, Tensor]:
    """Energies ``(B,)`` at ``answer`` and their gradient w.r.t. it, ``(rows, F)``.

    ``answer`` must be a leaf requiring grad, or a differentiable function of one (full
    backprop). With ``create_graph`` the gradient is itself differentiable.
    """
    with torch.enable_grad():
        energies = energy(answer)
        gradient = None
        if energies.requires_grad:
            (gradient,) = torch.autograd.grad(energies.sum(), answer, create_graph=create_graph,
                                              allow_unused=True)
    if gradient is None:
        raise PluginError(f"energy model {energy.source!r} returned energies that do not depend "
                          "on the answer (no gradient w.r.t. y); its forward must use the answer "
                          "argument without detaching it")
    return energies, gradient
