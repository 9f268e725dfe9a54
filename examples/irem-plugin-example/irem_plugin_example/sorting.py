"""Sorting as energy minimisation: the answer is the input vector in ascending order."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core import IremError, Problems

SPLITS = ("train", "same", "harder")


@attrs.define
class SortConfig:
    """Options of ``sort``.

    Attributes:
        length: ``L``, the number of values per problem.
    """

    length: int = attrs.field(default=10, validator=attrs.validators.ge(2))


class SortTask:
    """Sort ``L`` values: ``x ~ U(−1, 1)^L`` (harder: ``U(−2, 2)^L``), ``y = sort(x)``.

    One problem is one answer row, so ``row_problem`` is ``arange(N)``.

    Args:
        options: :class:`SortConfig`.

    Shapes:
        - inputs ``x``: ``(N, L)``
        - target and answers ``y``: ``(N, L)``
    """

    domain = "vector"

    def __init__(self, options: SortConfig) -> None:
        self.options = options
        self.input_features = options.length
        self.answer_features = options.length

    def sample(self, split: str, num_problems: int, generator: torch.Generator) -> Problems:
        """``num_problems`` problems of ``split``, drawn on ``generator``'s device."""
        if split not in SPLITS:
            raise IremError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        bound = 2.0 if split == "harder" else 1.0
        values = torch.rand((num_problems, self.options.length), generator=generator,
                            device=generator.device) * (2 * bound) - bound
        return self._problems(values, values.sort(dim=1).values)

    @staticmethod
    def _problems(inputs: Tensor, target: Tensor) -> Problems:
        rows = torch.arange(target.shape[0], device=target.device)
        return Problems(inputs=inputs, target=target, row_problem=rows, num_problems=target.shape[0])

    def init_answer(self, problems: Problems, generator: torch.Generator) -> Tensor:
        """``y_0 ~ U(−1, 1)``, shape ``(N, L)``."""
        shape = tuple(problems.target.shape)
        return torch.rand(shape, generator=generator, device=generator.device) * 2 - 1

    def score(self, answer: Tensor, problems: Problems) -> dict[str, Tensor]:
        """``in_order``: the fraction of adjacent answer values in ascending order, ``(N,)``."""
        return {"in_order": (answer[:, 1:] >= answer[:, :-1]).float().mean(dim=1)}

    def pack(self, problems: Problems, answer: Tensor) -> dict[str, Tensor]:
        """``{"x", "y", "answer"}``, each ``(N, L)``, for the replay buffer."""
        return {"x": problems.inputs, "y": problems.target, "answer": answer}

    def unpack(self, packed: dict[str, Tensor]) -> tuple[Problems, Tensor]:
        """Inverse of :meth:`pack`."""
        return self._problems(packed["x"], packed["y"]), packed["answer"]

    def to_tensors(self, problems: Problems) -> dict[str, Tensor]:
        """``{"x": (N, L), "y": (N, L)}``, for ``irem data`` files."""
        return {"x": problems.inputs, "y": problems.target}

    def from_tensors(self, tensors: dict[str, Tensor]) -> Problems:
        """Problems from ``{"x", "y"}`` (``y`` may be zeros when unknown)."""
        length = self.options.length
        for name in ("x", "y"):
            tensor = tensors.get(name)
            if tensor is None or tensor.dim() != 2 or tensor.shape[1] != length:
                shape = None if tensor is None else tuple(tensor.shape)
                raise IremError(f"sort needs tensor {name!r} of shape (N, {length}); got {shape} "
                                "(set task.length to match)")
        if tensors["x"].shape != tensors["y"].shape:
            raise IremError(f"x {tuple(tensors['x'].shape)} and y {tuple(tensors['y'].shape)} differ")
        return self._problems(tensors["x"].float(), tensors["y"].float())
