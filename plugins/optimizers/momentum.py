"""Heavy-ball and Nesterov momentum on the answer."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core.reasoning.descent import DescentLoop, DescentOptions, DescentStep, State
from irem_core.reasoning.energy import BoundEnergy


@attrs.define
class MomentumConfig(DescentOptions):
    """Options of ``momentum``.

    Attributes:
        momentum: ``μ``, the fraction of the previous velocity kept.
        nesterov: use Nesterov's look-ahead form instead of the heavy ball.
    """

    momentum: float = attrs.field(
        default=0.5, validator=[attrs.validators.ge(0), attrs.validators.lt(1)]
    )
    nesterov: bool = False


class Momentum(DescentLoop):
    """``v ← μ v + g``; heavy ball ``y ← y − λ v``, Nesterov ``y ← y − λ (g + μ v)``.

    The velocity ``v`` (``(rows, F)``) starts at zero for every solve.
    """

    options: MomentumConfig

    def init_state(self, answer: Tensor, energy: BoundEnergy) -> State:
        """Zero velocity, shaped like the answers."""
        return {"velocity": torch.zeros_like(answer.detach())}

    def update(self, at: DescentStep, state: State) -> tuple[Tensor, State]:
        """One momentum step."""
        velocity = self.options.momentum * state["velocity"] + at.gradient
        direction = (
            at.gradient + self.options.momentum * velocity if self.options.nesterov else velocity
        )
        return at.answer - self.options.step_size * direction, {"velocity": velocity}
