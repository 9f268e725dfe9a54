"""The ``sudoku`` task: fill a 9×9 board from its givens; answers are relaxed one-hot."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor

from irem_core.reasoning.protocols import Problems
from irem_core.reasoning.vector_task import VectorTask
from irem_plugins.sudoku.boards import CELLS, DIGITS, givens_mask, solved_boards, valid_boards


def _givens_range(instance: object, attribute: attrs.Attribute, value: list[int]) -> None:
    if len(value) != 2 or not 0 <= value[0] <= value[1] <= CELLS:
        raise ValueError(f"'{attribute.name}' must be [low, high] with 0 ≤ low ≤ high ≤ 81")


@attrs.define
class SudokuConfig:
    """Options of ``sudoku``.

    Attributes:
        same_givens: ``[low, high]``: the training and ``same`` puzzles show ``k ~ U{low..high}``
            cells (SAT-Net's puzzles show 31–42).
        harder_givens: the ``harder`` puzzles' range (RRN's show 17–34; we take 17–30).
    """

    same_givens: list[int] = attrs.field(factory=lambda: [31, 42], validator=_givens_range)
    harder_givens: list[int] = attrs.field(factory=lambda: [17, 30], validator=_givens_range)


class SudokuTask(VectorTask):
    """9×9 Sudoku: the input is the givens, one-hot ``(81 × 9)`` with blank cells all zero;
    the answer is every cell's digit as a relaxed one-hot ``(81 × 9)``, ``+1`` for the digit
    and ``−1`` elsewhere (IRED's encoding). The target is the board the puzzle was made
    from; puzzles with few givens may have other solutions, so a board counts as right when
    it is a valid Sudoku that keeps the givens (:meth:`score`).

    Boards are one solved grid under random Sudoku symmetries (digit relabelling, band,
    stack, row and column orders, transposition), drawn batched on the generator's device;
    puzzles hide a random set of cells.
    """

    input_features = CELLS * DIGITS
    answer_features = CELLS * DIGITS

    def __init__(self, options: SudokuConfig) -> None:
        self.options = options

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Givens ``(count, 729)`` and targets ``(count, 729)`` of ``split``."""
        low, high = self.options.harder_givens if split == "harder" else self.options.same_givens
        boards = solved_boards(count, generator)
        one_hot = F.one_hot(boards, DIGITS).float()  # (count, 81, 9)
        shown = givens_mask(count, low, high, generator)
        inputs = (one_hot * shown.unsqueeze(-1)).flatten(1)
        return inputs, (2 * one_hot - 1).flatten(1)

    def score(self, answer: Tensor, problems: Problems) -> dict[str, Tensor]:
        """Per problem ``(N,)``: ``board`` 1 where the answer's digits (each cell's largest
        entry) make a valid Sudoku keeping every given, else 0; ``cells``, the share of the
        81 cells equal to the target board's."""
        count = answer.shape[0]
        digits = answer.reshape(count, CELLS, DIGITS).argmax(dim=-1)
        givens = problems.inputs.reshape(count, CELLS, DIGITS)
        shown = givens.sum(dim=-1) > 0
        keeps = ((digits == givens.argmax(dim=-1)) | ~shown).all(dim=1)
        target = problems.target.reshape(count, CELLS, DIGITS).argmax(dim=-1)
        return {
            "board": (valid_boards(digits) & keeps).float(),
            "cells": (digits == target).float().mean(dim=1),
        }

    def size_hint(self) -> str:
        """Sudoku boards are always 9×9."""
        return "(sudoku files hold 729 input and 729 answer features)"
