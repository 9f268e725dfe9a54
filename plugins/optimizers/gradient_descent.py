"""The paper's reasoning procedure: fixed-step gradient descent on the answer."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core.energy import BoundEnergy, energy_and_gradient
from irem_core.protocols import Trajectory


@attrs.define
class GradientDescentConfig:
    """Options of ``gd``.

    Attributes:
        step_size: ``λ`` in ``y ← y − λ ∇_y E``; the paper uses 100.
        full_backprop: differentiate through every step in training instead of only the
            last one (the paper's default is truncated).
    """

    step_size: float = attrs.field(default=100.0, validator=attrs.validators.gt(0))
    full_backprop: bool = False


class GradientDescent:
    """``y_{t+1} = y_t − λ ∇_y E(x, y_t)`` for a fixed number of steps; never stops early.

    In training (``differentiable_energy`` given), steps ``1..T−1`` build no graph unless
    ``full_backprop``; the last step is differentiated (second order through one step).
    """

    def __init__(self, options: GradientDescentConfig) -> None:
        self.options = options

    def run(self, energy: BoundEnergy, y0: Tensor, steps: int, *,
            differentiable_energy: BoundEnergy | None = None,
            record: bool = False) -> Trajectory:
        """Descend ``energy`` from ``y0 (rows, F)`` for ``steps`` steps; see the protocol."""
        training = differentiable_energy is not None
        answer = y0.detach().requires_grad_(True)
        answers, energies = [y0.detach()], []
        for step in range(steps):
            differentiated = training and (self.options.full_backprop or step == steps - 1)
            if not (differentiated and self.options.full_backprop):
                answer = answer.detach().requires_grad_(True)
            current = differentiable_energy if differentiated else energy
            values, gradient = energy_and_gradient(current, answer, create_graph=differentiated)
            answer = answer - self.options.step_size * gradient
            if not differentiated:
                answer = answer.detach()
            if record:
                answers.append(answer.detach())
                energies.append(values.detach())
        if record or steps == 0:
            with torch.no_grad():
                energies.append(energy(answer.detach()))
        steps_used = torch.full((energy.num_problems,), steps, dtype=torch.long, device=y0.device)
        if not record:
            return Trajectory(answer=answer, steps_used=steps_used)
        return Trajectory(answer=answer, steps_used=steps_used, answers=torch.stack(answers),
                          energies=torch.stack(energies))
