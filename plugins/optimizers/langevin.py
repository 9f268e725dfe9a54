"""Annealed Langevin-style descent: gradient steps plus Gaussian noise decaying to zero."""

from __future__ import annotations

import attrs
from torch import Tensor

from irem_core.reasoning.descent import (
    DescentLoop,
    DescentOptions,
    DescentStep,
    State,
    normal_noise,
)


@attrs.define
class LangevinConfig(DescentOptions):
    """Options of ``langevin``.

    Attributes:
        noise: standard deviation of the noise added at the first step; it decays
            linearly to zero at the last step, so the final iterates are plain descent.
    """

    noise: float = attrs.field(default=0.01, validator=attrs.validators.ge(0))


class Langevin(DescentLoop):
    """``y ← y − λ g + σ_t ξ``, ``ξ ~ N(0, I)``, ``σ_t = noise · (1 − (t + 1) / T)`` (zero at
    the last step).

    The noise comes from the solve's stream in the state (``draws_random``): seeded from
    the caller's generator, so training noise resumes exactly from a checkpoint and an
    evaluation's noise is fixed by its seed.
    """

    options: LangevinConfig
    draws_random = True

    def update(self, at: DescentStep, state: State) -> tuple[Tensor, State]:
        """One noisy gradient step."""
        scale = self.options.noise * (1 - (at.index + 1) / at.count)
        noise, state = normal_noise(state, at.answer)
        return at.answer - self.options.step_size * at.gradient + scale * noise, state
