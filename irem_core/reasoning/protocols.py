"""The core's vocabulary: problems, trajectories and the roles plugins fill.

Answers are always a 2-D tensor of shape ``(rows, features)``: one row per problem for
vector tasks, one row per edge for graph tasks. ``Problems.row_problem`` maps each answer
row to the index of the problem it belongs to, so that per-problem reductions
(energy-based answer selection, per-problem error) work for every domain alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs
import torch
from torch import Tensor, nn

if TYPE_CHECKING:  # irem_core.reasoning.energy reads the capabilities below
    from irem_core.reasoning.energy import BoundEnergy

Split = Literal["train", "same", "harder"]
SPLITS: tuple[str, ...] = ("train", "same", "harder")


@attrs.frozen
class Problems:
    """A batch of problems with their true answers.

    Attributes:
        inputs: what the energy model conditions on; task-defined (a ``(B, D_x)`` tensor
            for vector tasks, a torch_geometric ``Batch`` for graph tasks).
        target: true answers, shape ``(rows, F)``.
        row_problem: problem index of each answer row, shape ``(rows,)``, int64.
        num_problems: ``B``, the number of problems in the batch.
    """

    inputs: Any
    target: Tensor
    row_problem: Tensor
    num_problems: int


@attrs.frozen
class Trajectory:
    """What a solver returns for a batch of ``B`` problems after at most ``T`` steps.

    Attributes:
        answer: final answers ``y_T``, shape ``(rows, F)``; differentiable w.r.t. the
            solver's parameters when the solver ran with ``differentiable=True``.
        steps_used: steps each problem took, shape ``(B,)``, int64.
        answers: every iterate ``y_0 .. y_T``, shape ``(T + 1, rows, F)``; only when the
            solver ran with ``record=True``.
        energies: energy of every iterate, shape ``(T + 1, B)``; only when recorded and the
            solver has an energy (``None`` for solvers without one).
        extras: solver-specific tensors its :meth:`Solver.training_loss` needs (e.g.
            PonderNet's halting probabilities).
    """

    answer: Tensor
    steps_used: Tensor
    answers: Tensor | None = None
    energies: Tensor | None = None
    extras: dict[str, Tensor] = attrs.field(factory=dict)


@runtime_checkable
class Task(Protocol):
    """A family of problems: samples batches, starts answers and stores them.

    Optional capabilities, each its own protocol: :class:`ScoringTask` (metrics of its own
    beside the MSE), :class:`NestableTask` (nested reasoning), :class:`VectorInputTask`
    (vector inputs of a known width).
    """

    domain: str
    """Answer domain, e.g. ``"vector"`` or ``"graph"``; energy models declare theirs."""

    answer_features: int
    """``F``, the number of features of one answer row."""

    def sample(self, split: str, num_problems: int, generator: torch.Generator) -> Problems:
        """Draw ``num_problems`` problems of ``split`` using only ``generator``, on its device."""
        ...

    def init_answer(self, problems: Problems, generator: torch.Generator) -> Tensor:
        """Initial answers ``y_0``, shape ``(rows, F)``, on the problems' device."""
        ...

    def pack(self, problems: Problems, answer: Tensor) -> dict[str, Tensor]:
        """Fixed-shape per-problem tensors (leading dim ``B``) for the replay buffer."""
        ...

    def unpack(self, packed: dict[str, Tensor]) -> tuple[Problems, Tensor]:
        """Inverse of :meth:`pack`: problems and their current answers."""
        ...

    def to_tensors(self, problems: Problems) -> dict[str, Tensor]:
        """The problem set as named tensors, for ``irem data`` files."""
        ...

    def from_tensors(self, tensors: dict[str, Tensor]) -> Problems:
        """Inverse of :meth:`to_tensors`; raises ``IremError`` on missing or misshapen tensors."""
        ...


@runtime_checkable
class EnergyModel(Protocol):
    """An ``nn.Module`` giving one scalar energy per problem.

    ``encode`` runs once per solve on the inputs (so work that does not depend on the
    answer is not repeated at every step); ``forward`` runs at every step.
    """

    def encode(self, inputs: Any) -> Any:
        """Answer-independent context computed from ``Problems.inputs``."""
        ...

    def forward(self, context: Any, answer: Tensor) -> Tensor:
        """Energies, shape ``(B,)``, for answers of shape ``(rows, F)``."""
        ...


@runtime_checkable
class ScoringTask(Protocol):
    """A task with metrics of its own: ``irem eval`` averages each and reports it beside the MSE.

    Example: edge accuracy for connected components, ``in_order`` for sorting.
    """

    def score(self, answer: Tensor, problems: Problems) -> dict[str, Tensor]:
        """Per-row values ``{name: (rows,)}`` of answers ``(rows, F)`` to ``problems``."""
        ...


@runtime_checkable
class NestableTask(Protocol):
    """A task whose problems are one operation on operands, so they can be composed.

    ``irem nested`` and the :class:`Recursion` strategies use it: operands drawn with
    :meth:`sample_operands` are fed through ``depth`` operations, each posed with
    :meth:`from_operands`. A task may also set ``operation_arity: int``, the number of
    operands of its operation (``2`` for addition, ``1`` for inversion); ``irem nested``
    then refuses a strategy of another arity.
    """

    def sample_operands(
        self, split: str, count: int, operands: int, generator: torch.Generator
    ) -> list[Tensor]:
        """``operands`` operands of ``split``, each ``(count, F)``, drawn only from ``generator``.

        Raises ``IremError`` when the task's problems have no operation to compose.
        """
        ...

    def from_operands(self, operands: list[Tensor]) -> Problems:
        """One operation on ``operands`` (``(N, F)`` each, as many as the operation takes):
        ``N`` problems with the operation's exact answer ``(N, F)`` as target."""
        ...


@runtime_checkable
class VectorInputTask(Protocol):
    """A task whose ``Problems.inputs`` are a ``(B, D_x)`` tensor (e.g. for the ``mlp`` energy)."""

    input_features: int
    """``D_x``, the width of one problem's input vector."""


@runtime_checkable
class SelectableEnergy(Protocol):
    """An energy model that can restrict its context to a subset of problems.

    Optimizers use it for per-problem halting: halted problems drop out of later steps.
    """

    def select(self, context: Any, problems: Tensor) -> Any:
        """The context of ``problems`` only (sorted indices ``(B',)``), renumbered ``0..B'−1``."""
        ...


@runtime_checkable
class MemoryEnergy(Protocol):
    """An energy model with scratchpad memory: ``M`` extra answer columns it reasons in.

    :class:`~irem_core.EnergySolver` appends ``M`` zero columns to ``y0`` (``(rows, F)`` →
    ``(rows, F + M)``), descends them jointly and drops them from the returned answers.
    """

    memory_features: int
    """``M``; ``0`` means no scratchpad."""


@runtime_checkable
class GradientEnergy(Protocol):
    """An energy model that computes its own gradient w.r.t. the answer.

    :func:`~irem_core.energy_and_gradient` (every descent step) calls
    :meth:`energy_and_gradient` when the model has it and autograd otherwise. The gradient
    is written in ordinary differentiable torch operations (backprop through the network by
    hand, no ``torch.autograd.grad`` inside), so training differentiates one explicit graph
    with a single backward instead of a double backward through autograd's.
    """

    def energy_and_gradient(self, context: Any, answer: Tensor) -> tuple[Tensor, Tensor] | None:
        """Energies ``(B,)`` of answers ``(rows, F)`` (``forward(context, answer)``) and
        ``∇_y Σ_b E_b``, shape ``(rows, F)``; ``context`` is ``encode(inputs)``, possibly
        restricted by ``select``.

        Both must be differentiable w.r.t. the parameters and ``answer`` when grad is
        enabled (the core runs it under ``torch.no_grad`` when no graph is wanted). Return
        ``None`` for a configuration it does not cover (e.g. a subclass that overrides
        ``forward``): the core then falls back to autograd.
        """
        ...


@runtime_checkable
class LandscapeEnergy(Protocol):
    """An energy model that can be conditioned on one of ``K`` energy landscapes.

    Solvers that anneal, such as IRED's, descend a sequence of landscapes ``E(x, y, k)``
    from the smoothest (``k = K − 1``) to the data's own (``k = 0``). The model says how many
    it holds (``landscapes``, set through its options; 0 for an unconditioned model) and
    turns a context into that of given landscapes; ``forward`` and
    ``energy_and_gradient`` then take the conditioned context unchanged.
    """

    landscapes: int
    """``K``, the landscapes the model can be conditioned on (0: none)."""

    def condition(self, context: Any, landscapes: Tensor) -> Any:
        """The context of ``encode(inputs)`` on landscape ``landscapes[b]`` for problem ``b``
        (``(B,)`` integers in ``0 .. K − 1``)."""
        ...


@runtime_checkable
class Optimizer(Protocol):
    """A reasoning procedure: descends an energy from ``y0`` for at most ``steps`` steps."""

    def run(
        self,
        energy: BoundEnergy,
        y0: Tensor,
        steps: int,
        *,
        differentiable_energy: BoundEnergy | None = None,
        record: bool = False,
        generator: torch.Generator | None = None,
    ) -> Trajectory:
        """Minimise ``energy`` starting at ``y0`` of shape ``(rows, F)``.

        Args:
            energy: the energy for steps that are not differentiated w.r.t. parameters.
            y0: initial answers, shape ``(rows, F)``; never modified in place.
            steps: the step budget ``T``.
            differentiable_energy: when given, the optimizer is being trained: its result
                must be differentiable w.r.t. the parameters through this function (at
                least through the last step; how far back is the optimizer's option).
            record: keep every iterate and its energy in the trajectory.
            generator: the stream of the solve's own randomness (e.g. Langevin noise); an
                optimizer that draws random numbers draws them from it, never from a
                stream of its own, so its results are reproducible and checkpointed with
                the caller's generator.
        """
        ...


class Solver(nn.Module):
    """What training and evaluation see: maps (problems, ``y0``, budget) to a trajectory.

    Subclasses implement :meth:`solve`. IREM is an energy model plus an optimizer; each
    baseline is its own solver.
    """

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
        """Produce answers for ``problems`` within ``steps`` steps.

        Args:
            problems: the batch.
            y0: initial answers ``(rows, F)``; solvers that do not iterate on answers may
                ignore it.
            steps: step budget.
            differentiable: build the graph needed to train the solver's parameters.
            record: keep every iterate (and energies, if any) for evaluation.
            generator: the stream of the solve's own randomness, if it has any; the core
                passes the generator that drew ``y0`` (in training a checkpointed one).
        """
        raise NotImplementedError

    def training_loss(self, problems: Problems, trajectory: Trajectory) -> Tensor:
        """The scalar loss of a differentiable trajectory; default: MSE of the final answer."""
        return nn.functional.mse_loss(trajectory.answer, problems.target)

    def training_step(
        self, problems: Problems, y0: Tensor, steps: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """One training iteration's scalar loss and the answers ``(rows, F)`` to replay.

        Default: solve differentiably from ``y0`` for ``steps`` steps and take
        :meth:`training_loss` of the trajectory (IREM and the baselines). A solver whose
        training is not a solve (IRED's denoising and contrastive losses) overrides it;
        ``generator`` is the stream of its randomness, checkpointed by the trainer.
        """
        trajectory = self.solve(problems, y0, steps, differentiable=True, generator=generator)
        return self.training_loss(problems, trajectory), trajectory.answer


@runtime_checkable
class Recursion(Protocol):
    """Solves a nested problem by composing a trained solver's answers to sub-problems.

    ``arity`` is the number of operands of the composed operation: a nested problem of
    ``depth`` operations takes ``depth · (arity − 1) + 1`` operands.
    """

    arity: int

    def solve(
        self,
        solver: Solver,
        task: Task,
        operands: list[Tensor],
        depth: int,
        steps: int,
        generator: torch.Generator,
    ) -> list[Tensor]:
        """The composed answer ``(N, F)`` after each of ``depth`` operations, in order.

        ``task`` is a :class:`NestableTask`: its ``from_operands(operands) -> Problems`` poses
        one operation (its exact answer as target), which ``solver`` answers in ``steps``
        steps; ``operands`` are ``(N, F)`` each.
        """
        ...


LogValue = float | Mapping[str, float]
"""One logged value: a number, or a table of numbers (e.g. the periodic evaluation's MSE
at each step budget, ``{"10": 0.012, "min_energy": 0.011}``)."""


@attrs.frozen
class LogRun:
    """What a :class:`Logger` is opened with.

    Attributes:
        directory: the run directory; a logger writes only the files (or folders) it
            registered as ``files``.
        config: the run config as plain data, as saved in ``config.json`` (e.g. for a
            tracking service's hyperparameters).
        resumed_from: the iteration of the checkpoint a resumed run continues from, or
            ``None`` for a new run. The resumed run logs the iterations after it again, so a
            logger drops (or hides) what it had logged after ``resumed_from``.
    """

    directory: Path
    config: dict[str, Any]
    resumed_from: int | None = None


@runtime_checkable
class Logger(Protocol):
    """Receives training metrics on rank 0; built by ``factory(run: LogRun) -> Logger``.

    Every value is a plain Python number (no tensor, no host synchronisation left to do).
    """

    def log(self, iteration: int, values: Mapping[str, LogValue]) -> None:
        """Record ``values`` (``loss``, ``lr``, ``problems_per_s``, ``elapsed_s``,
        ``eval_same_mse``...: whichever were measured) at ``iteration``, in call order."""
        ...

    def close(self) -> None:
        """Flush and release what the logger holds; called once, also when training stops."""
        ...
