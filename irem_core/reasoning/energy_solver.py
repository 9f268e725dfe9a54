"""An energy model and an optimizer make a solver: reasoning is minimising the energy."""

from __future__ import annotations

from typing import cast

import attrs
import torch
from torch import Tensor, nn

from irem_core.reasoning.energy import BoundEnergy
from irem_core.reasoning.protocols import (
    EnergyModel,
    MemoryEnergy,
    Optimizer,
    Problems,
    Solver,
    Trajectory,
)

FIXED_POINT = "fixed_point_step"
"""Trajectory extra: one differentiable optimizer step taken from the true answer ``(rows, F)``."""


class EnergySolver(Solver):
    """Solves problems by descending ``energy_model`` with ``optimizer``.

    Its training loss is the MSE of the final answer (the paper's), plus, when
    ``fixed_point_weight`` is positive, that weight times the MSE between the true answer and
    one optimizer step taken from it: a term that makes the true answer a fixed point of the
    descent, so that answers stop there instead of drifting on when the test budget exceeds
    the trained one (docs/graph.md, "the energy's minimum is not at the answer").

    Args:
        energy_model: gives one energy per problem (``encode`` + ``forward``).
        optimizer: descends the energy.
        energy_name: how error messages name the energy model, e.g. ``'mlp' (plugin matrix)``.
        fixed_point_weight: weight of the fixed-point term (0: the paper's loss alone).
    """

    def __init__(
        self,
        energy_model: nn.Module,
        optimizer: Optimizer,
        energy_name: str,
        fixed_point_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.energy_model = energy_model
        self.optimizer = optimizer
        self.energy_name = energy_name
        self.fixed_point_weight = fixed_point_weight

    def solve(
        self,
        problems: Problems,
        y0: Tensor,
        steps: int,
        *,
        differentiable: bool = False,
        record: bool = False,
        generator: torch.Generator | None = None,
    ) -> Trajectory:
        """Descend the energy from ``y0 (rows, F)``; see :class:`irem_core.reasoning.protocols.Solver`.

        A :class:`~irem_core.reasoning.protocols.MemoryEnergy` with ``memory_features = M > 0`` gets
        ``M`` scratchpad columns appended to the answer (zeros at the start), descended
        jointly and dropped from the returned answers.
        """
        context = cast(EnergyModel, self.energy_model).encode(problems.inputs)
        energy = BoundEnergy(
            self.energy_model,
            context,
            problems.row_problem,
            problems.num_problems,
            self.energy_name,
        )
        memory = (
            self.energy_model.memory_features if isinstance(self.energy_model, MemoryEnergy) else 0
        )
        trajectory = self.optimizer.run(
            energy,
            _with_memory(y0, memory),
            steps,
            differentiable_energy=energy if differentiable else None,
            record=record,
            generator=generator,
        )
        if differentiable and self.fixed_point_weight:
            step = self.optimizer.run(
                energy,
                _with_memory(problems.target, memory),
                1,
                differentiable_energy=energy,
                generator=generator,
            )
            extras = {**trajectory.extras, FIXED_POINT: step.answer[:, : y0.shape[1]]}
            trajectory = attrs.evolve(trajectory, extras=extras)
        if not memory:
            return trajectory
        features = y0.shape[1]
        answers = trajectory.answers[..., :features] if trajectory.answers is not None else None
        return attrs.evolve(trajectory, answer=trajectory.answer[:, :features], answers=answers)

    def training_loss(self, problems: Problems, trajectory: Trajectory) -> Tensor:
        """MSE of the final answer, plus ``fixed_point_weight`` times the MSE of one step
        taken from the true answer (see the class)."""
        loss = super().training_loss(problems, trajectory)
        if not self.fixed_point_weight:
            return loss
        step = trajectory.extras[FIXED_POINT]
        return loss + self.fixed_point_weight * nn.functional.mse_loss(step, problems.target)


def _with_memory(answer: Tensor, memory: int) -> Tensor:
    """``answer (rows, F)`` with ``memory`` zero scratchpad columns appended."""
    if not memory:
        return answer
    return torch.cat([answer, answer.new_zeros(answer.shape[0], memory)], dim=1)
