"""Annealed Langevin-style descent: gradient steps plus Gaussian noise decaying to zero."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core.energy import BoundEnergy
from irem_core.descent import DescentLoop, DescentOptions, State


@attrs.define
class LangevinConfig(DescentOptions):
    """Options of ``langevin``.

    Attributes:
        noise: standard deviation of the noise added at the first step; it decays
            linearly to zero at the last step, so the final iterates are plain descent.
        seed: seed of the optimizer's own noise generator.
    """

    noise: float = attrs.field(default=0.01, validator=attrs.validators.ge(0))
    seed: int = 0


class Langevin(DescentLoop):
    """``y ← y − λ g + σ_t ξ``, ``ξ ~ N(0, I)``, ``σ_t = noise · (1 − (t + 1) / T)`` (zero at the last step).

    The noise comes from a generator owned by the optimizer (seeded by ``seed``, created
    on the answers' device on first use), so runs are reproducible.
    """

    def __init__(self, options: LangevinConfig) -> None:
        super().__init__(options)
        self.generator: torch.Generator | None = None

    def update(self, energy: BoundEnergy, answer: Tensor, values: Tensor, gradient: Tensor,
               state: State, step: int, steps: int) -> tuple[Tensor, State]:
        """One noisy gradient step."""
        if self.generator is None or self.generator.device != answer.device:
            self.generator = torch.Generator(answer.device).manual_seed(self.options.seed)
        scale = self.options.noise * (1 - (step + 1) / steps)
        noise = torch.randn(answer.shape, generator=self.generator, device=answer.device)
        return answer - self.options.step_size * gradient + scale * noise, state
