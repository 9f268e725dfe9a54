"""The paper's matrix tasks, generated as batched tensors from an explicit generator.

Every task draws ``(N, n, n)`` matrices at once on the generator's device and flattens them:
inputs ``x`` have shape ``(N, D_x)`` and answers ``y`` shape ``(N, n²)``.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core.errors import IremError
from irem_core.reasoning.protocols import Problems
from irem_core.reasoning.vector_task import VectorTask


@attrs.define
class MatrixConfig:
    """Options of every matrix task.

    Attributes:
        size: ``n``, the matrices are ``n × n`` (the paper uses 20).
    """

    size: int = attrs.field(default=20, validator=attrs.validators.ge(2))


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> Tensor:
    return torch.rand(shape, generator=generator, device=generator.device) * (high - low) + low


def _normal(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    return torch.randn(shape, generator=generator, device=generator.device)


class MatrixTask(VectorTask):
    """Base of the matrix tasks: one problem is one answer row of ``n²`` features.

    Subclasses implement :meth:`draw`, returning ``(x (N, D_x), y (N, n²))``;
    :class:`~irem_core.reasoning.vector_task.VectorTask` samples, starts answers ``U(−1, 1)``, packs
    and stores them (``irem data`` files ``{"x", "y"}``).

    Args:
        options: :class:`MatrixConfig`.
    """

    input_matrices = 1

    def __init__(self, options: MatrixConfig) -> None:
        self.options = options
        self.size = options.size
        self.answer_features = options.size**2
        self.input_features = self.input_matrices * options.size**2

    @property
    def operation_arity(self) -> int:
        """Operands of one operation, for nested reasoning (``fold`` composes 2, ``repeat`` 1)."""
        return self.input_matrices

    def size_hint(self) -> str:
        """``for n x n matrices (set task.size to match)``."""
        return f"for {self.size}x{self.size} matrices (set task.size to match)"

    def sample_operands(
        self, split: str, count: int, operands: int, generator: torch.Generator
    ) -> list[Tensor]:
        """``operands`` operand matrices of ``split``, each ``(count, n²)``, for nested problems."""
        raise IremError(
            f"task {type(self).__name__} has no operation to compose, so it does "
            "not support nested reasoning (addition and inverse do)"
        )

    def from_operands(self, operands: list[Tensor]) -> Problems:
        """One operation's problems on ``input_matrices`` operands ``(N, n²)`` each, with its
        exact answer as target."""
        raise IremError(f"task {type(self).__name__} does not support nested reasoning")


class AdditionTask(MatrixTask):
    """``x = [A, B]``, ``y = A + B``; ``A, B ~ U(−1, 1)``, harder ``U(−2.5, 2.5)``."""

    input_matrices = 2

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """See :meth:`VectorTask.draw`."""
        operands = torch.stack(self.sample_operands(split, count, 2, generator), dim=1)
        return operands.flatten(1), operands.sum(1)

    def sample_operands(
        self, split: str, count: int, operands: int, generator: torch.Generator
    ) -> list[Tensor]:
        """Matrices ``~ U(−1, 1)`` (harder ``U(−2.5, 2.5)``), each ``(count, n²)``."""
        bound = 2.5 if split == "harder" else 1.0
        return list(_uniform((operands, count, self.answer_features), -bound, bound, generator))

    def from_operands(self, operands: list[Tensor]) -> Problems:
        """``x = [A, B]``, target ``A + B``."""
        left, right = operands
        return self.make_problems(torch.cat([left, right], dim=1), left + right)


class CompletionTask(MatrixTask):
    """Low-rank completion: ``x = R ⊙ M``, ``y = R``.

    ``R = 0.1·N(0, 1) + U Vᵀ / 20`` with ``U, V ~ N(0, 1)^{n × n/2}`` (harder: ``U Vᵀ / 5``)
    and ``M_ij ~ Bernoulli(0.5)``; no mask channel, as in the release.
    """

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """See :meth:`VectorTask.draw`."""
        n, rank = self.size, max(self.size // 2, 1)
        scale = 5.0 if split == "harder" else 20.0
        left = _normal((count, n, rank), generator)
        right = _normal((count, n, rank), generator)
        noise = 0.1 * _normal((count, n, n), generator)
        target = noise + left @ right.transpose(1, 2) / scale
        mask = torch.rand((count, n, n), generator=generator, device=generator.device) < 0.5
        return (target * mask).flatten(1), target.flatten(1)


class InverseTask(MatrixTask):
    """``x = S``, ``y = S⁻¹`` with ``S = A Aᵀ + (A Aᵀ)ᵀ + 0.5 I``, ``A ~ U(−1, 1)``.

    The harder split adds ``0.1 I`` instead of ``0.5 I`` (worse conditioned).
    """

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """See :meth:`VectorTask.draw`."""
        (matrix,) = self.sample_operands(split, count, 1, generator)
        problems = self.from_operands([matrix])
        return problems.inputs, problems.target

    def sample_operands(
        self, split: str, count: int, operands: int, generator: torch.Generator
    ) -> list[Tensor]:
        """Symmetric positive-definite ``S`` matrices, each ``(count, n²)``."""
        n = self.size
        shift = 0.1 if split == "harder" else 0.5
        a = _uniform((operands, count, n, n), -1.0, 1.0, generator)
        gram = a @ a.transpose(-1, -2)
        matrix = gram + gram.transpose(-1, -2) + shift * torch.eye(n, device=generator.device)
        return list(matrix.flatten(2))

    def from_operands(self, operands: list[Tensor]) -> Problems:
        """``x = S``, target ``S⁻¹``."""
        (matrix,) = operands
        square = matrix.view(-1, self.size, self.size)
        return self.make_problems(matrix, torch.linalg.inv(square).flatten(1))
