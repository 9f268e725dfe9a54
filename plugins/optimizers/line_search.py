"""Gradient descent with a per-problem backtracking (Armijo) line search on the step size."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core.reasoning.descent import DescentLoop, DescentOptions, DescentStep, State
from irem_core.reasoning.energy import BoundEnergy


@attrs.define
class LineSearchConfig(DescentOptions):
    """Options of ``linesearch``; ``step_size`` is the largest step tried.

    Attributes:
        shrink: factor applied to a problem's step while its trial is rejected.
        armijo: ``c`` in the sufficient-decrease test ``E(y − λg) ≤ E(y) − c λ ‖g‖²``.
        max_backtracks: trials per step; a problem whose trials all fail takes the smallest.
    """

    shrink: float = attrs.field(
        default=0.5, validator=[attrs.validators.gt(0), attrs.validators.lt(1)]
    )
    armijo: float = attrs.field(
        default=1e-4, validator=[attrs.validators.ge(0), attrs.validators.lt(1)]
    )
    max_backtracks: int = attrs.field(default=8, validator=attrs.validators.ge(1))


class LineSearch(DescentLoop):
    """``y ← y − λ_b g`` with ``λ_b`` found per problem by backtracking.

    Each step starts from twice the problem's last accepted step (at most ``step_size``),
    so a problem keeps a step that works. Trial energies are forward-only evaluations,
    counted in the trajectory's ``energy_evaluations``.
    """

    options: LineSearchConfig
    problem_state = ("step", "evaluations")

    def init_state(self, answer: Tensor, energy: BoundEnergy) -> State:
        """Every problem starts at ``step_size``."""
        count = energy.num_problems
        return {
            "step": torch.full((count,), self.options.step_size, device=answer.device),
            "evaluations": torch.zeros(count, dtype=torch.long, device=answer.device),
        }

    def update(self, at: DescentStep, state: State) -> tuple[Tensor, State]:
        """Backtrack each problem's step until sufficient decrease, then take it."""
        options, energy, answer, gradient = self.options, at.energy, at.answer, at.gradient
        direction = gradient.detach()
        squared_norm = energy.per_problem((direction**2).sum(-1))
        step_sizes = state["step"].clone()
        pending = torch.ones_like(step_sizes, dtype=torch.bool)
        evaluations = state["evaluations"].clone()
        with torch.no_grad():
            for _ in range(options.max_backtracks):
                trial = answer.detach() - step_sizes[energy.row_problem, None] * direction
                accepted = (
                    energy(trial) <= at.values.detach() - options.armijo * step_sizes * squared_norm
                )
                evaluations += pending.long()
                pending &= ~accepted
                if not bool(pending.any()):
                    break
                step_sizes = torch.where(pending, step_sizes * options.shrink, step_sizes)
        moved = answer - step_sizes[energy.row_problem, None] * gradient
        next_steps = torch.clamp(step_sizes * 2, max=options.step_size)
        return moved, {"step": next_steps, "evaluations": evaluations}
