"""The paper's matrix tasks, generated as batched tensors from an explicit generator.

Every task draws ``(N, n, n)`` matrices at once on the generator's device and flattens them:
inputs ``x`` have shape ``(N, D_x)`` and answers ``y`` shape ``(N, n²)``.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core.errors import IremError
from irem_core.protocols import SPLITS, Problems


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


class MatrixTask:
    """Base of the matrix tasks: one problem is one answer row of ``n²`` features.

    Subclasses implement :meth:`draw`, returning ``(x (N, D_x), y (N, n²))``.

    Args:
        options: :class:`MatrixConfig`.
    """

    domain = "vector"
    input_matrices = 1

    def __init__(self, options: MatrixConfig) -> None:
        self.options = options
        self.size = options.size
        self.answer_features = options.size ** 2
        self.input_features = self.input_matrices * options.size ** 2

    @property
    def operation_arity(self) -> int:
        """Operands of one operation, for nested reasoning (``fold`` composes 2, ``repeat`` 1)."""
        return self.input_matrices

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Inputs ``(count, D_x)`` and targets ``(count, n²)`` of ``split``."""
        raise NotImplementedError

    def sample_operands(self, split: str, count: int, operands: int,
                        generator: torch.Generator) -> list[Tensor]:
        """``operands`` operand matrices of ``split``, each ``(count, n²)``, for nested problems."""
        raise IremError(f"task {type(self).__name__} has no operation to compose, so it does "
                        "not support nested reasoning (addition and inverse do)")

    def from_operands(self, operands: list[Tensor]) -> Problems:
        """One operation's problems on ``input_matrices`` operands ``(N, n²)`` each, with its
        exact answer as target."""
        raise IremError(f"task {type(self).__name__} does not support nested reasoning")

    def sample(self, split: str, num_problems: int, generator: torch.Generator) -> Problems:
        """``num_problems`` problems of ``split`` (``train``, ``same`` or ``harder``)."""
        if split not in SPLITS:
            raise IremError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        inputs, target = self.draw(split, num_problems, generator)
        return self._problems(inputs, target)

    def _problems(self, inputs: Tensor, target: Tensor) -> Problems:
        rows = torch.arange(target.shape[0], device=target.device)
        return Problems(inputs=inputs, target=target, row_problem=rows, num_problems=target.shape[0])

    def init_answer(self, problems: Problems, generator: torch.Generator) -> Tensor:
        """``y_0 ~ U(−1, 1)``, shape ``(N, n²)``."""
        return _uniform(tuple(problems.target.shape), -1.0, 1.0, generator)

    def pack(self, problems: Problems, answer: Tensor) -> dict[str, Tensor]:
        """``{"x": (N, D_x), "y": (N, n²), "answer": (N, n²)}`` for the replay buffer."""
        return {"x": problems.inputs, "y": problems.target, "answer": answer}

    def unpack(self, packed: dict[str, Tensor]) -> tuple[Problems, Tensor]:
        """Inverse of :meth:`pack`."""
        return self._problems(packed["x"], packed["y"]), packed["answer"]

    def to_tensors(self, problems: Problems) -> dict[str, Tensor]:
        """``{"x": (N, D_x), "y": (N, n²)}``."""
        return {"x": problems.inputs, "y": problems.target}

    def from_tensors(self, tensors: dict[str, Tensor]) -> Problems:
        """Problems from ``{"x", "y"}``, checking names, shapes and dtypes."""
        expected = {"x": self.input_features, "y": self.answer_features}
        missing = sorted(set(expected) - set(tensors))
        if missing:
            raise IremError(f"problem file lacks tensor(s) {', '.join(missing)}; a "
                            f"{type(self).__name__} file holds x and y (write it with 'irem data')")
        extra = sorted(set(tensors) - set(expected))
        if extra:
            raise IremError(f"problem file holds tensor(s) {', '.join(extra)} that a "
                            f"{type(self).__name__} file does not have (only x and y): is it "
                            "another task's file? Write one with 'irem data --like RUN'")
        count = tensors["x"].shape[0] if tensors["x"].dim() else -1
        for name, features in expected.items():
            tensor = tensors[name]
            if tensor.shape != (count, features) or not tensor.is_floating_point():
                raise IremError(f"tensor {name!r} has shape {tuple(tensor.shape)} and dtype "
                                f"{tensor.dtype}; expected ({count}, {features}) floating point "
                                f"for {self.size}x{self.size} matrices (set task.size to match)")
        return self._problems(tensors["x"].float(), tensors["y"].float())


class AdditionTask(MatrixTask):
    """``x = [A, B]``, ``y = A + B``; ``A, B ~ U(−1, 1)``, harder ``U(−2.5, 2.5)``."""

    input_matrices = 2

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """See :meth:`MatrixTask.draw`."""
        operands = torch.stack(self.sample_operands(split, count, 2, generator), dim=1)
        return operands.flatten(1), operands.sum(1)

    def sample_operands(self, split: str, count: int, operands: int,
                        generator: torch.Generator) -> list[Tensor]:
        """Matrices ``~ U(−1, 1)`` (harder ``U(−2.5, 2.5)``), each ``(count, n²)``."""
        bound = 2.5 if split == "harder" else 1.0
        return list(_uniform((operands, count, self.answer_features), -bound, bound, generator))

    def from_operands(self, operands: list[Tensor]) -> Problems:
        """``x = [A, B]``, target ``A + B``."""
        left, right = operands
        return self._problems(torch.cat([left, right], dim=1), left + right)


class CompletionTask(MatrixTask):
    """Low-rank completion: ``x = R ⊙ M``, ``y = R``.

    ``R = 0.1·N(0, 1) + U Vᵀ / 20`` with ``U, V ~ N(0, 1)^{n × n/2}`` (harder: ``U Vᵀ / 5``)
    and ``M_ij ~ Bernoulli(0.5)``; no mask channel, as in the release.
    """

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """See :meth:`MatrixTask.draw`."""
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
        """See :meth:`MatrixTask.draw`."""
        (matrix,) = self.sample_operands(split, count, 1, generator)
        problems = self.from_operands([matrix])
        return problems.inputs, problems.target

    def sample_operands(self, split: str, count: int, operands: int,
                        generator: torch.Generator) -> list[Tensor]:
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
        return self._problems(matrix, torch.linalg.inv(square).flatten(1))
