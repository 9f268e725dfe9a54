"""Adam on the answer: per-coordinate step sizes from running gradient moments."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core import BoundEnergy, DescentLoop, DescentOptions, DescentStep, State


@attrs.define
class AdamConfig(DescentOptions):
    """Options of ``adam`` (plus step size, backprop and halting of every descent optimizer).

    Attributes:
        step_size: ``λ``, the largest move of one coordinate in one step (about).
        beta1: decay of the gradient's running mean.
        beta2: decay of the squared gradient's running mean.
        epsilon: ``ε`` in ``sqrt(v̂ + ε²)``; inside the root, so the step stays
            differentiable where a gradient is exactly zero.
    """

    step_size: float = attrs.field(default=0.05, validator=attrs.validators.gt(0))
    beta1: float = attrs.field(
        default=0.9, validator=[attrs.validators.ge(0), attrs.validators.lt(1)]
    )
    beta2: float = attrs.field(
        default=0.999, validator=[attrs.validators.ge(0), attrs.validators.lt(1)]
    )
    epsilon: float = attrs.field(default=1e-8, validator=attrs.validators.gt(0))


class Adam(DescentLoop):
    """``m ← β₁ m + (1 − β₁) g``, ``v ← β₂ v + (1 − β₂) g²``, ``y ← y − λ m̂ / sqrt(v̂ + ε²)``.

    ``m̂ = m / (1 − β₁ᵗ)`` and ``v̂ = v / (1 − β₂ᵗ)`` correct the zero start of both moments
    (``(rows, F)`` each, zero at every solve).
    """

    def init_state(self, answer: Tensor, energy: BoundEnergy) -> State:
        """Zero moments, shaped like the answers."""
        zeros = torch.zeros_like(answer.detach())
        return {"mean": zeros, "square": zeros.clone()}

    def update(self, at: DescentStep, state: State) -> tuple[Tensor, State]:
        """One Adam step."""
        options, gradient = self.options, at.gradient
        mean = options.beta1 * state["mean"] + (1 - options.beta1) * gradient
        square = options.beta2 * state["square"] + (1 - options.beta2) * gradient**2
        mean_hat = mean / (1 - options.beta1 ** (at.index + 1))
        square_hat = square / (1 - options.beta2 ** (at.index + 1))
        moved = at.answer - options.step_size * mean_hat / (square_hat + options.epsilon**2).sqrt()
        return moved, {"mean": mean, "square": square}
