"""The training loss of one iteration (:meth:`~irem_core.reasoning.protocols.Solver.training_step`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from irem_core.reasoning.protocols import Problems, Solver


class TrainingLoss(nn.Module):
    """Solve and training loss as one ``forward``, the unit DistributedDataParallel wraps.

    Args:
        solver: the solver being trained.
        steps: the training step budget.
    """

    def __init__(self, solver: Solver, steps: int) -> None:
        super().__init__()
        self.solver = solver
        self.steps = steps

    def forward(
        self, problems: Problems, y0: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """The scalar loss (a mean over this process's rows) and the final answers
        ``(rows, F)``; the solve's own randomness comes from ``generator``."""
        return self.solver.training_step(problems, y0, self.steps, generator)
