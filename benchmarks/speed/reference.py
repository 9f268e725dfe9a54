"""The simplest faithful eager implementation of the release's matrix training step.

Same model (an MLP on the concatenation ``[y, x]``), batch (fresh + replayed), steps, step
size and optimizer as the release, written plainly: every speed figure of irem is reported
as a ratio to this loop timed in the same run.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ReferenceLoop:
    """The release's training iteration for a vector task, in plain PyTorch.

    Args:
        input_features: ``D_x``.
        answer_features: ``F``.
        sample: ``sample(count, generator) -> (x (count, D_x), y (count, F))``.
        batch_size: fresh problems per iteration.
        steps: optimisation steps (only the last is differentiated).
        hidden: MLP width.
        step_size: ``λ``.
        seed: seeds the model and the problems.
    """

    def __init__(
        self,
        input_features: int,
        answer_features: int,
        sample,
        batch_size: int = 512,
        steps: int = 10,
        hidden: int = 512,
        step_size: float = 100.0,
        seed: int = 0,
    ) -> None:
        torch.manual_seed(seed)
        self.model = nn.Sequential(
            nn.Linear(input_features + answer_features, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 1),
        )
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        self.sample, self.batch_size, self.steps, self.step_size = (
            sample,
            batch_size,
            steps,
            step_size,
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.replay: tuple[Tensor, Tensor, Tensor] | None = None

    def step(self) -> float:
        """One iteration: fresh + replayed problems, ``steps`` steps, MSE on the last."""
        x, target = self.sample(self.batch_size, self.generator)
        answer = torch.rand(target.shape, generator=self.generator) * 2 - 1
        if self.replay is not None:
            index = torch.randint(
                self.replay[0].shape[0], (self.batch_size,), generator=self.generator
            )
            x = torch.cat([x, self.replay[0][index]])
            target = torch.cat([target, self.replay[1][index]])
            answer = torch.cat([answer, self.replay[2][index]])
        for step in range(self.steps):
            last = step == self.steps - 1
            answer = answer.detach().requires_grad_(True)
            energy = self.model(torch.cat([answer, x], dim=1))
            (gradient,) = torch.autograd.grad(energy.sum(), answer, create_graph=last)
            answer = answer - self.step_size * gradient
        loss = ((answer - target) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.replay = (x, target, answer.detach())
        return float(loss.detach())
