"""Sudoku boards as tensors: solved boards drawn by symmetries of one grid, puzzles by
hiding cells, and the validity check; everything batched, nothing per board in Python.

A board is ``(N, 81)`` digits ``0..8`` in row-major order.
"""

from __future__ import annotations

import torch
from torch import Tensor

SIDE, BOX, DIGITS = 9, 3, 9
CELLS = SIDE * SIDE


def _base(device: torch.device) -> Tensor:
    """A solved grid ``(9, 9)``: row ``r`` is the digits shifted by ``3 (r mod 3) + r // 3``."""
    rows = torch.arange(SIDE, device=device)
    shift = BOX * (rows % BOX) + rows // BOX
    return (shift[:, None] + torch.arange(SIDE, device=device)[None, :]) % DIGITS


def line_orders(count: int, generator: torch.Generator) -> Tensor:
    """``count`` random orders of 9 lines ``(count, 9)`` that keep Sudoku's rules: the bands of
    three lines permuted, and the lines within each band."""
    device = generator.device
    bands = torch.rand((count, BOX), generator=generator, device=device).argsort(dim=1)
    within = torch.rand((count, BOX, BOX), generator=generator, device=device).argsort(dim=2)
    return (bands[:, :, None] * BOX + within).reshape(count, SIDE)


def solved_boards(count: int, generator: torch.Generator) -> Tensor:
    """``count`` solved boards ``(count, 81)``: one valid grid under a random digit
    relabelling, row and column orders (bands, stacks and the lines within them) and
    transposition, drawn from ``generator`` on its device."""
    device = generator.device
    rows, columns = line_orders(count, generator), line_orders(count, generator)
    grid = _base(device)[rows[:, :, None], columns[:, None, :]]  # (count, 9, 9)
    transpose = torch.rand((count, 1, 1), generator=generator, device=device) < 0.5
    grid = torch.where(transpose, grid.transpose(1, 2), grid)
    relabel = torch.rand((count, DIGITS), generator=generator, device=device).argsort(dim=1)
    return relabel.gather(1, grid.reshape(count, CELLS))


def givens_mask(count: int, low: int, high: int, generator: torch.Generator) -> Tensor:
    """Which cells a puzzle shows ``(count, 81)`` bool: ``k ~ U{low..high}`` random cells each."""
    device = generator.device
    shown = torch.randint(low, high + 1, (count, 1), generator=generator, device=device)
    rank = torch.rand((count, CELLS), generator=generator, device=device).argsort(dim=1).argsort(1)
    return rank < shown


def valid_boards(digits: Tensor) -> Tensor:
    """Whether each board ``(N, 81)`` is a solved Sudoku: every row, column and box holds
    each digit once; ``(N,)`` bool."""
    count = digits.shape[0]
    grid = digits.reshape(count, SIDE, SIDE)
    boxes = grid.reshape(count, BOX, BOX, BOX, BOX).transpose(2, 3).reshape(count, SIDE, SIDE)
    units = torch.cat([grid, grid.transpose(1, 2), boxes], dim=1)  # (N, 27, 9)
    seen = torch.zeros((count, 3 * SIDE, DIGITS), dtype=torch.bool, device=digits.device)
    seen.scatter_(2, units, True)
    return seen.all(dim=2).all(dim=1)
