"""The baseline solvers, written once for every domain.

Each solver drives a network supplied by a domain module (:mod:`.vector` or :mod:`.graph`):
a one-pass network for ``feedforward``, a :class:`StepCore` for the solvers that iterate.
Answers have the core's shape ``(rows, F)``: rows are problems for vector tasks, edges for
graph tasks.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irem_core.errors import IremError
from irem_core.reasoning.protocols import Problems, Solver, Trajectory
from irem_plugins.baselines.halting import (
    geometric_log_prior,
    halting_log_distribution,
    halting_step,
    kl_to_prior,
)
from irem_plugins.baselines.options import PonderConfig


class StepCore(nn.Module):
    """A network applied step by step to a per-batch state.

    ``encode`` runs once per solve; ``step`` maps a state to the next one; ``readout`` turns
    any state into answers. What a state holds is the core's business (LSTM cells, a
    scratch pad, the answer itself).

    Cores that serve ``ponder`` also implement :meth:`summary` and set ``width``.

    Attributes:
        width: features of :meth:`summary`, per problem.

    Shapes:
        - encode: ``inputs -> context``
        - start: ``context, y0 (rows, F) -> state``
        - step: ``context, state -> state``
        - readout: ``context, state -> answers (rows, F)``
        - summary: ``context, state -> (B, width)``, one feature vector per problem
    """

    width: int

    def encode(self, inputs: Any) -> Any:
        """Answer-independent context computed once per solve."""
        raise NotImplementedError

    def start(self, context: Any, y0: Tensor) -> Any:
        """The state before the first step."""
        raise NotImplementedError

    def step(self, context: Any, state: Any) -> Any:
        """One application of the step network."""
        raise NotImplementedError

    def readout(self, context: Any, state: Any) -> Tensor:
        """Answers ``(rows, F)`` held by ``state``."""
        raise NotImplementedError

    def summary(self, context: Any, state: Any) -> Tensor:
        """Per-problem features ``(B, width)`` of ``state`` (PonderNet's halting head reads them)."""
        raise NotImplementedError


def unroll(
    core: StepCore, problems: Problems, y0: Tensor, steps: int, truncate: bool = False
) -> tuple[Any, list[Any]]:
    """Run ``core`` for ``steps`` steps; returns the context and the ``steps + 1`` states.

    With ``truncate``, steps ``1..steps−1`` build no autograd graph, so only the last step is
    differentiated (IREM's truncated backprop, applied to a learned update).
    """
    context = core.encode(problems.inputs)
    states = [core.start(context, y0)]
    grad_enabled = torch.is_grad_enabled()
    for index in range(steps):
        with torch.set_grad_enabled(grad_enabled and not (truncate and index < steps - 1)):
            states.append(core.step(context, states[-1]))
    return context, states


def _full_steps(problems: Problems, steps: int, device: torch.device) -> Tensor:
    return torch.full((problems.num_problems,), steps, dtype=torch.long, device=device)


class FeedforwardSolver(Solver):
    """One pass of ``network``; every step budget gets the same answer.

    Args:
        network: maps ``Problems.inputs`` to answers ``(rows, F)``.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def solve(
        self,
        problems: Problems,
        y0: Tensor,
        steps: int,
        *,
        differentiable: bool = False,
        record: bool = False,
        generator: torch.Generator | None = None,
    ) -> Trajectory:
        """Answer in one pass (``y0`` is ignored); ``answers`` repeats it ``steps + 1`` times."""
        with torch.set_grad_enabled(differentiable):
            answer = self.network(problems.inputs)
        answers = answer.detach().expand(steps + 1, *answer.shape) if record else None
        return Trajectory(
            answer=answer, steps_used=_full_steps(problems, 1, answer.device), answers=answers
        )


class UnrolledSolver(Solver):
    """Runs a :class:`StepCore` for the whole budget; trained on the final answer.

    Used by ``recurrent`` (LSTM core) and ``iterative`` (answer-update core, whose state is
    the answer, so it continues from ``y0`` and the trainer's replayed answers).
    Gradients flow through every step, or with ``truncate`` through the last one only.

    Args:
        core: the step network.
        truncate: differentiate only the last step in training.
    """

    supervise_every_step = False
    """Keep every step's answer in ``extras["answers"]`` for the training loss."""

    def __init__(self, core: StepCore, truncate: bool = False) -> None:
        super().__init__()
        self.core = core
        self.truncate = truncate

    def solve(
        self,
        problems: Problems,
        y0: Tensor,
        steps: int,
        *,
        differentiable: bool = False,
        record: bool = False,
        generator: torch.Generator | None = None,
    ) -> Trajectory:
        """Run ``steps`` steps from ``y0 (rows, F)``; ``answers`` is ``(steps + 1, rows, F)``."""
        every = record or (differentiable and self.supervise_every_step)
        with torch.set_grad_enabled(differentiable):
            context, states = unroll(self.core, problems, y0, steps, self.truncate)
            answers = torch.stack(
                [self.core.readout(context, state) for state in (states if every else states[-1:])]
            )
        extras = {"answers": answers[1:]} if differentiable and self.supervise_every_step else {}
        return Trajectory(
            answer=answers[-1],
            steps_used=_full_steps(problems, steps, y0.device),
            answers=answers.detach() if record else None,
            extras=extras,
        )


class ProgrammaticSolver(UnrolledSolver):
    """One learned module applied repeatedly to a scratch state, supervised at every step.

    The loss is the mean of the answers' MSE over steps ``1..T``: every application of the
    module must leave a usable answer on the scratch pad, so running the program longer at
    test time stays near what training saw.
    """

    supervise_every_step = True

    def training_loss(self, problems: Problems, trajectory: Trajectory) -> Tensor:
        """Mean over steps of the MSE of each step's answer."""
        step_answers = trajectory.extras["answers"]
        return F.mse_loss(step_answers, problems.target.expand_as(step_answers))


def frozen_after_halting(answers: Tensor, row_halt: Tensor, length: int) -> Tensor:
    """Iterates with each row held at its halting step from then on.

    Args:
        answers: ``(S + 1, rows, F)``.
        row_halt: halting step of each row's problem, ``(rows,)``, in ``0..S``.
        length: iterates wanted, at least ``S + 1``.

    Returns:
        ``(length, rows, F)``; entry ``t`` is ``answers[min(t, halt)]``.
    """
    steps = torch.arange(length, device=answers.device)[:, None]
    rows = torch.arange(answers.shape[1], device=answers.device)
    return answers[torch.minimum(steps, row_halt), rows]


class PonderSolver(Solver):
    """PonderNet: a recurrent step network that emits an answer and a halting logit per step.

    Training minimises ``Σ_n p_n MSE_n + β KL(p ‖ Geometric(λ_p))`` (see
    :mod:`.halting`) over the training budget ``T``, whose last step absorbs the remaining
    probability. That budget is the model's *horizon*: it is kept in the ``horizon`` buffer
    (saved with the weights), and a solve with a larger budget runs at most ``horizon``
    steps, so the halting distribution at test time is the one training shaped (the halting
    logits of later steps never received a gradient).

    Each problem answers at its halting step: the first step whose cumulative halting
    probability reaches ``halt_threshold`` (the median of ``p``); ``Trajectory.answer``
    holds that answer and ``steps_used`` that step. As with the optimizers' halting rules,
    recorded answers stay frozen once a problem has halted, so ``answers[b]`` is exactly
    what PonderNet answers with budget ``b`` (the cumulative probability up to a step does
    not depend on later steps) and ``answers[-1]`` is the halting answer.

    Args:
        core: the step network (its :meth:`StepCore.summary` feeds the halting head).
        options: :class:`~irem_plugins.baselines.options.PonderConfig`.
    """

    horizon: Tensor

    def __init__(self, core: StepCore, options: PonderConfig) -> None:
        super().__init__()
        self.core = core
        self.halting = nn.Linear(core.width, 1)
        self.options = options
        self.register_buffer("horizon", torch.zeros((), dtype=torch.long))

    def solve(
        self,
        problems: Problems,
        y0: Tensor,
        steps: int,
        *,
        differentiable: bool = False,
        record: bool = False,
        generator: torch.Generator | None = None,
    ) -> Trajectory:
        """Run ``min(steps, horizon)`` steps (``steps ≥ 1``); answer each problem at its
        halting step. A differentiable solve sets the horizon to ``steps``."""
        if steps < 1:
            raise IremError(f"solver 'ponder' needs a step budget of at least 1, got {steps}")
        if differentiable:
            self.horizon.fill_(steps)
        horizon = int(self.horizon)
        run = min(steps, horizon) if horizon else steps
        with torch.set_grad_enabled(differentiable):
            context, states = unroll(self.core, problems, y0, run)
            answers = torch.stack([self.core.readout(context, state) for state in states])
            logits = torch.stack(
                [
                    self.halting(self.core.summary(context, state)).squeeze(-1)
                    for state in states[1:]
                ]
            )
            log_p = halting_log_distribution(logits)
        halt = halting_step(log_p.detach(), self.options.halt_threshold)
        rows = torch.arange(answers.shape[1], device=answers.device)
        answer = answers[halt[problems.row_problem], rows]
        extras = {"answers": answers[1:], "log_halting": log_p} if differentiable else {}
        recorded = (
            frozen_after_halting(answers, halt[problems.row_problem], steps + 1).detach()
            if record
            else None
        )
        return Trajectory(answer=answer, steps_used=halt, answers=recorded, extras=extras)

    def training_loss(self, problems: Problems, trajectory: Trajectory) -> Tensor:
        """``Σ_n p_n MSE_n`` (element-wise mean over rows) ``+ kl_weight · KL``, mean over problems."""
        if "log_halting" not in trajectory.extras:
            raise IremError(
                "ponder's training loss needs a trajectory from solve(..., differentiable=True)"
            )
        step_answers, log_p = trajectory.extras["answers"], trajectory.extras["log_halting"]
        squared = (step_answers - problems.target).pow(2).mean(dim=-1)
        reconstruction = (log_p.exp()[:, problems.row_problem] * squared).sum(dim=0).mean()
        steps = log_p.shape[0]
        rate = self.options.prior_halting or 1.0 / steps
        kl = kl_to_prior(log_p, geometric_log_prior(steps, rate, log_p)).mean()
        return reconstruction + self.options.kl_weight * kl
