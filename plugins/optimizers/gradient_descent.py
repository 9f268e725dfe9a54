"""The paper's reasoning procedure: fixed-step gradient descent on the answer."""

from __future__ import annotations

import attrs
from torch import Tensor

from irem_core.reasoning.descent import DescentLoop, DescentOptions, DescentStep, State


@attrs.define
class GradientDescentConfig(DescentOptions):
    """Options of ``gd``: those of every descent optimizer (step size, backprop, halting)."""


class GradientDescent(DescentLoop):
    """``y_{t+1} = y_t − λ ∇_y E(x, y_t)``, the paper's optimizer.

    In training, steps ``1..T−1`` build no graph unless ``full_backprop``; the last step is
    differentiated (second order through one step).
    """

    def update(self, at: DescentStep, state: State) -> tuple[Tensor, State]:
        """``y − λ g``."""
        return at.answer - self.options.step_size * at.gradient, state
