"""An energy model and an optimizer make a solver: reasoning is minimising the energy."""

from __future__ import annotations

from typing import cast

import attrs
import torch
from torch import Tensor, nn

from irem_core.energy import BoundEnergy
from irem_core.protocols import (
    EnergyModel,
    MemoryEnergy,
    Optimizer,
    Problems,
    Solver,
    Trajectory,
)


class EnergySolver(Solver):
    """Solves problems by descending ``energy_model`` with ``optimizer``.

    Args:
        energy_model: gives one energy per problem (``encode`` + ``forward``).
        optimizer: descends the energy.
        energy_name: how error messages name the energy model, e.g. ``'mlp' (plugin matrix)``.
    """

    def __init__(self, energy_model: nn.Module, optimizer: Optimizer, energy_name: str) -> None:
        super().__init__()
        self.energy_model = energy_model
        self.optimizer = optimizer
        self.energy_name = energy_name

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
        """Descend the energy from ``y0 (rows, F)``; see :class:`irem_core.protocols.Solver`.

        A :class:`~irem_core.protocols.MemoryEnergy` with ``memory_features = M > 0`` gets
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
        if memory:
            y0 = torch.cat([y0, y0.new_zeros(y0.shape[0], memory)], dim=1)
        trajectory = self.optimizer.run(
            energy,
            y0,
            steps,
            differentiable_energy=energy if differentiable else None,
            record=record,
            generator=generator,
        )
        if not memory:
            return trajectory
        features = y0.shape[1] - memory
        answers = trajectory.answers[..., :features] if trajectory.answers is not None else None
        return attrs.evolve(trajectory, answer=trajectory.answer[:, :features], answers=answers)
