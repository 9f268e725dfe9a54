"""The optimizer contract: :func:`check_optimizer`, on an analytic quadratic energy."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import attrs
import torch
from torch import Tensor, nn

from irem_core.reasoning.energy import (
    BoundEnergy,
)
from irem_core.reasoning.protocols import (
    Optimizer,
)
from irem_core.testing.support import Device, require, seeded


@attrs.frozen
class QuadraticContext:
    """The problems of a :class:`QuadraticEnergy`.

    Attributes:
        centres: ``c``, ``(rows, F)``.
        curvature: ``a`` of each row's problem, ``(rows,)``.
        row_problem: problem of each row, ``(rows,)``.
        num_problems: ``B``.
    """

    centres: Tensor
    curvature: Tensor
    row_problem: Tensor
    num_problems: int


class QuadraticEnergy(nn.Module):
    """``E_b(y) = ½ a_b Σ_{rows r of b} ‖y_r − c_r − s‖²``, minimised at ``y_r = c_r + s``.

    The shift ``s`` (``(F,)``, zero) is a parameter, so optimizers' results can be
    differentiated w.r.t. it.

    Shapes:
        - forward: ``QuadraticContext, y (rows, F) -> energies (B,)``
        - select: ``QuadraticContext, problems (B',) -> QuadraticContext``
    """

    def __init__(self, features: int) -> None:
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(features))

    def forward(self, context: QuadraticContext, answer: Tensor) -> Tensor:
        """Energies ``(B,)`` of answers ``(rows, F)``."""
        offset = answer - context.centres - self.shift
        per_row = 0.5 * context.curvature * (offset**2).sum(-1)
        return per_row.new_zeros(context.num_problems).index_add(0, context.row_problem, per_row)

    def select(self, context: QuadraticContext, problems: Tensor) -> QuadraticContext:
        """The context of ``problems`` only (sorted ``(B',)``), renumbered ``0..B'−1``."""
        keep = torch.isin(context.row_problem, problems)
        return QuadraticContext(
            context.centres[keep],
            context.curvature[keep],
            torch.searchsorted(problems, context.row_problem[keep]),
            problems.numel(),
        )


def quadratic_energy(
    curvature: float, *, device: Device = "cpu", dtype: torch.dtype = torch.float32, seed: int = 0
) -> tuple[BoundEnergy, Tensor]:
    """A bound :class:`QuadraticEnergy` of 3 problems owning 1, 2 and 3 rows of 2 features.

    Problem ``b`` has curvature ``curvature / 2^b``.

    Returns:
        The energy and a start ``y0 ~ U(−1, 1)``, ``(6, 2)``.
    """
    generator = seeded(torch.device(device), seed)
    rows = torch.tensor([0, 1, 1, 2, 2, 2], device=device)
    centres = torch.rand((6, 2), generator=generator, device=device, dtype=dtype) * 2 - 1
    start = torch.rand((6, 2), generator=generator, device=device, dtype=dtype) * 2 - 1
    context = QuadraticContext(centres, curvature * 0.5 ** rows.to(dtype), rows, 3)
    model = QuadraticEnergy(2).to(device=device, dtype=dtype)
    return BoundEnergy(model, context, rows, 3, "'contract quadratic'"), start


def check_optimizer(
    factory: Callable[[], Optimizer],
    *,
    device: Device = "cpu",
    steps: int = 10,
    curvature: float | None = None,
    name: str | None = None,
) -> None:
    """Check the optimizers ``factory()`` makes on an analytic quadratic energy.

    Args:
        factory: makes a fresh optimizer, e.g. ``lambda: Adam(AdamConfig())``.
        device: where the answers live.
        steps: the step budget ``T``.
        curvature: the quadratic's largest curvature; default ``0.5 / step_size`` when the
            optimizer has ``options.step_size`` (plain descent then halves the error per
            step), else 1.
        name: the name used in messages (default: the class name).
    """
    optimizer = factory()
    label = f"optimizer {name or type(optimizer).__name__}"
    step_size = getattr(getattr(optimizer, "options", None), "step_size", None)
    curvature = curvature or (0.5 / step_size if step_size else 1.0)
    energy, start = quadratic_energy(curvature, device=device)
    original = start.clone()

    def stream() -> torch.Generator:
        """The same caller's generator for every run: randomness must come only from it."""
        return torch.Generator(start.device).manual_seed(0)

    trajectory = optimizer.run(energy, start, steps, record=True, generator=stream())
    require(torch.equal(start, original), label, "must not modify y0 in place")
    answers, energies = trajectory.answers, trajectory.energies
    require(
        answers is not None
        and answers.shape == (steps + 1, *start.shape)
        and torch.equal(answers[0], start),
        label,
        "record=True must keep every iterate, (T + 1, rows, F), starting at y0",
    )
    require(
        energies is not None and energies.shape == (steps + 1, 3),
        label,
        "record=True must keep the energies of every iterate, (T + 1, B)",
    )
    assert answers is not None and energies is not None  # both required just above
    require(
        trajectory.answer.shape == start.shape
        and trajectory.answer.dtype == start.dtype
        and trajectory.answer.device == start.device
        and torch.allclose(trajectory.answer, answers[-1]),
        label,
        "the answer must be the last iterate, shaped, typed and placed like y0",
    )
    used = trajectory.steps_used
    require(
        used.dtype == torch.int64 and used.shape == (3,) and bool((used <= steps).all()),
        label,
        "steps_used must be int64 of shape (B,), at most the budget",
    )
    require(
        bool((energies[-1] < energies[0]).all()),
        label,
        f"must lower every problem's energy on a quadratic (curvature {curvature:g}); "
        f"energies went from {energies[0].tolist()} to {energies[-1].tolist()}",
    )
    repeat = optimizer.run(energy, start, steps, record=True, generator=stream()).answers
    require(
        repeat is not None and torch.equal(repeat, answers),
        label,
        "a second solve from the same generator must repeat the result exactly (no "
        "random stream or state of the optimizer's own may carry over between solves)",
    )
    plain = factory().run(energy, start, steps, generator=stream())
    require(
        plain.answers is None and torch.allclose(plain.answer, trajectory.answer),
        label,
        "record=False must give the same answer without keeping iterates",
    )
    trained = factory().run(energy, start, steps, differentiable_energy=energy, generator=stream())
    shift = cast(QuadraticEnergy, energy.model).shift
    (shift_gradient,) = torch.autograd.grad(trained.answer.sum(), shift, allow_unused=True)
    require(
        shift_gradient is not None
        and bool(shift_gradient.isfinite().all())
        and bool(shift_gradient.abs().sum() > 0),
        label,
        "with differentiable_energy the answer must be differentiable w.r.t. its parameters",
    )
    wide, wide_start = quadratic_energy(curvature, device=device, dtype=torch.float64)
    require(
        factory().run(wide, wide_start, 2, generator=stream()).answer.dtype == torch.float64,
        label,
        "float64 answers must stay float64",
    )
