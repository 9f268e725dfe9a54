"""Binding an energy model to a batch, and the one place that checks the energy contract."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn

from irem_core.errors import PluginError
from irem_core.reasoning.protocols import GradientEnergy, SelectableEnergy


class BoundEnergy:
    """An energy model bound to encoded problems: maps answers ``(rows, F)`` to ``(B,)``.

    Args:
        model: the energy model (``encode`` already applied).
        context: ``model.encode(problems.inputs)``.
        row_problem: problem index of each answer row, ``(rows,)``.
        num_problems: ``B``.
        source: how error messages name the model, e.g. ``'mlp' (plugin matrix)``.
    """

    def __init__(
        self, model: nn.Module, context: Any, row_problem: Tensor, num_problems: int, source: str
    ) -> None:
        self.model = model
        self.context = context
        self.row_problem = row_problem
        self.num_problems = num_problems
        self.source = source

    @property
    def can_restrict(self) -> bool:
        """Whether the model can evaluate a subset of problems (a :class:`SelectableEnergy`)."""
        return isinstance(self.model, SelectableEnergy)

    def restrict(self, problems: Tensor) -> tuple[BoundEnergy, Tensor]:
        """The energy of only ``problems`` (sorted indices, ``(B',)``) and their row mask.

        Requires a :class:`SelectableEnergy` model (``select(context, problems) -> context``).

        Returns:
            The restricted energy (problems renumbered ``0..B'−1``) and a ``(rows,)`` bool
            mask of the rows that belong to ``problems``.
        """
        rows = torch.zeros(self.num_problems, dtype=torch.bool, device=problems.device)
        rows[problems] = True
        rows = rows[self.row_problem]
        renumber = torch.full((self.num_problems,), -1, dtype=torch.long, device=problems.device)
        renumber[problems] = torch.arange(problems.numel(), device=problems.device)
        context = cast(SelectableEnergy, self.model).select(self.context, problems)
        return BoundEnergy(
            self.model, context, renumber[self.row_problem[rows]], problems.numel(), self.source
        ), rows

    def per_problem(self, values: Tensor) -> Tensor:
        """Sum per-row values ``(rows,)`` into per-problem totals ``(B,)``."""
        return values.new_zeros(self.num_problems).index_add_(0, self.row_problem, values)

    def __call__(self, answer: Tensor) -> Tensor:
        energies = self.model(self.context, answer)
        if not isinstance(energies, Tensor) or energies.shape != (self.num_problems,):
            shape = (
                tuple(energies.shape) if isinstance(energies, Tensor) else type(energies).__name__
            )
            raise PluginError(
                f"energy model {self.source} returned energies of shape {shape}; "
                f"expected ({self.num_problems},): one scalar per problem"
            )
        return energies


def energy_and_gradient(
    energy: BoundEnergy, answer: Tensor, *, create_graph: bool
) -> tuple[Tensor, Tensor]:
    """Energies ``(B,)`` at ``answer`` and their gradient w.r.t. it, ``(rows, F)``.

    A :class:`~irem_core.reasoning.protocols.GradientEnergy` model computes both itself (an explicit
    graph: training needs no double backward); any other model, or one whose
    ``energy_and_gradient`` returns ``None``, goes through
    :func:`autograd_energy_and_gradient`. With ``create_graph`` both are differentiable
    w.r.t. the parameters and ``answer``; without it neither carries a graph.
    """
    if isinstance(energy.model, GradientEnergy):
        with torch.enable_grad() if create_graph else torch.no_grad():
            supplied = energy.model.energy_and_gradient(energy.context, answer)
        if supplied is not None:
            return _checked(energy, answer, *supplied)
    return autograd_energy_and_gradient(energy, answer, create_graph=create_graph)


def autograd_energy_and_gradient(
    energy: BoundEnergy, answer: Tensor, *, create_graph: bool
) -> tuple[Tensor, Tensor]:
    """:func:`energy_and_gradient` by autograd, whatever the model supplies (the fallback,
    and the reference a :class:`~irem_core.reasoning.protocols.GradientEnergy` is tested against).

    ``answer`` must be a leaf requiring grad, or a differentiable function of one (full
    backprop). With ``create_graph`` the gradient is itself differentiable; without it the
    energies are returned detached too.
    """
    with torch.enable_grad():
        energies = energy(answer)
        gradient = None
        if energies.requires_grad:
            (gradient,) = torch.autograd.grad(
                energies.sum(), answer, create_graph=create_graph, allow_unused=True
            )
    if gradient is None:
        raise PluginError(
            f"energy model {energy.source} returned energies that do not depend "
            "on the answer (no gradient w.r.t. y); its forward must use the answer "
            "argument without detaching it"
        )
    return (energies, gradient) if create_graph else (energies.detach(), gradient)


def _checked(
    energy: BoundEnergy, answer: Tensor, energies: Any, gradient: Any
) -> tuple[Tensor, Tensor]:
    """The model's own energies and gradient, refused unless shaped ``(B,)`` and like ``answer``."""
    expected = {"energies": (energy.num_problems,), "gradient": tuple(answer.shape)}
    for name, value in (("energies", energies), ("gradient", gradient)):
        if not isinstance(value, Tensor) or tuple(value.shape) != expected[name]:
            shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise PluginError(
                f"energy model {energy.source}'s energy_and_gradient returned "
                f"{name} of shape {shape}; expected {expected[name]}"
            )
    return energies, gradient
