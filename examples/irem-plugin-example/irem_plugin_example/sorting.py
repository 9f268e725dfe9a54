"""Sorting as energy minimisation: the answer is the input vector in ascending order."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from irem_core import Problems, VectorTask


@attrs.define
class SortConfig:
    """Options of ``sort``.

    Attributes:
        length: ``L``, the number of values per problem.
    """

    length: int = attrs.field(default=10, validator=attrs.validators.ge(2))


class SortTask(VectorTask):
    """Sort ``L`` values: ``x ~ U(−1, 1)^L`` (harder: ``U(−2, 2)^L``), ``y = sort(x)``.

    ``VectorTask`` does the rest: splits, starts ``y_0 ~ U(−1, 1)``, replay-buffer packing
    and ``irem data`` files ``{"x": (N, L), "y": (N, L)}``.

    Args:
        options: :class:`SortConfig`.

    Shapes:
        - inputs ``x``: ``(N, L)``
        - target and answers ``y``: ``(N, L)``
    """

    def __init__(self, options: SortConfig) -> None:
        self.options = options
        self.input_features = options.length
        self.answer_features = options.length

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``count`` vectors of ``split`` ``(count, L)`` and their sorted values ``(count, L)``."""
        bound = 2.0 if split == "harder" else 1.0
        values = (
            torch.rand((count, self.options.length), generator=generator, device=generator.device)
            * (2 * bound)
            - bound
        )
        return values, values.sort(dim=1).values

    def size_hint(self) -> str:
        """Told to a file of the wrong width."""
        return f"for {self.options.length} values (set task.length to match)"

    def score(self, answer: Tensor, problems: Problems) -> dict[str, Tensor]:
        """``in_order``: the fraction of adjacent answer values in ascending order, ``(N,)``."""
        return {"in_order": (answer[:, 1:] >= answer[:, :-1]).float().mean(dim=1)}
