"""``board``, a Sudoku energy: cells that read their row, column and box."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irem_core.errors import IremError
from irem_core.reasoning.protocols import Task
from irem_plugins.sudoku.boards import BOX, CELLS, DIGITS, SIDE


@attrs.define
class BoardEnergyConfig:
    """Options of ``board``.

    Attributes:
        hidden: width ``h`` of every cell's features.
        layers: rounds in which each cell reads the means of its row, column and box.
        landscapes: ``K`` energy landscapes to condition on (for ``ired``; 0: none), a
            learned ``(K, h)`` table added to every cell's first features.
    """

    hidden: int = attrs.field(default=128, validator=attrs.validators.gt(0))
    layers: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    landscapes: int = attrs.field(default=0, validator=attrs.validators.ge(0))


def unit_means(cells: Tensor) -> Tensor:
    """For every cell of ``cells`` ``(B, 81, h)``, the sum of the means of its row, its
    column and its box, ``(B, 81, h)``."""
    count, hidden = cells.shape[0], cells.shape[-1]
    grid = cells.reshape(count, SIDE, SIDE, hidden)
    rows = grid.mean(dim=2, keepdim=True)
    columns = grid.mean(dim=1, keepdim=True)
    boxes = grid.reshape(count, BOX, BOX, BOX, BOX, hidden).mean(dim=(2, 4), keepdim=True)
    boxes = boxes.expand(count, BOX, BOX, BOX, BOX, hidden).reshape(count, SIDE, SIDE, hidden)
    return (rows + columns + boxes).reshape(count, CELLS, hidden)


class BoardEnergy(nn.Module):
    """``E(x, y) = mean_cells w · σ(h_L)``: each cell starts from its answer (9 entries) and its
    given (9, zero when blank), ``h_0 = σ(A y_c + G x_c)``; each layer adds what the cell
    reads from its units, ``h_{l+1} = h_l + σ(U h_l + V m(h_l))``, ``m`` the means of its row,
    column and box (:func:`unit_means`). The energy is the same under the board symmetries
    the generator draws (band and row orders, stack and column orders, transposition): it
    can learn the rules, not positions.

    Shapes:
        - encode: ``x (B, 729) -> context (B, 81, h)`` (``G x``)
        - forward: ``context, y (B, 729) -> energies (B,)``
        - condition: ``context, landscapes (B,) -> context``; select: ``context, (B',)``
    """

    def __init__(self, options: BoardEnergyConfig, task: Task) -> None:
        super().__init__()
        if getattr(task, "answer_features", None) != CELLS * DIGITS:
            raise IremError(
                f"energy model 'board' reads 9x9 Sudoku boards (729 answer features); "
                f"{type(task).__name__} is not one: use it with task sudoku"
            )
        hidden = options.hidden
        self.answer_layer = nn.Linear(DIGITS, hidden)
        self.given_layer = nn.Linear(DIGITS, hidden, bias=False)
        self.own = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(options.layers))
        self.units = nn.ModuleList(
            nn.Linear(hidden, hidden, bias=False) for _ in range(options.layers)
        )
        self.readout = nn.Linear(hidden, 1)
        self.landscapes = options.landscapes
        if options.landscapes:
            self.landscape_table = nn.Parameter(torch.zeros(options.landscapes, hidden))

    def encode(self, inputs: Tensor) -> Tensor:
        """Every cell's given, embedded: ``(B, 81, h)``."""
        return self.given_layer(inputs.reshape(-1, CELLS, DIGITS))

    def condition(self, context: Tensor, landscapes: Tensor) -> Tensor:
        """The context on landscape ``landscapes[b]`` for board ``b``."""
        if not self.landscapes:
            raise IremError(
                "energy model 'board' has no landscapes; set its option landscapes = K "
                "(e.g. --set solver.energy.landscapes=10)"
            )
        return context + self.landscape_table[landscapes].unsqueeze(1)

    def select(self, context: Tensor, problems: Tensor) -> Tensor:
        """The context of boards ``problems`` only, for per-problem halting."""
        return context[problems]

    def forward(self, context: Tensor, answer: Tensor) -> Tensor:
        """Energies ``(B,)`` of answers ``(B, 729)``."""
        cells = F.silu(self.answer_layer(answer.reshape(-1, CELLS, DIGITS)) + context)
        for own, units in zip(self.own, self.units):
            cells = cells + F.silu(own(cells) + units(unit_means(cells)))
        return self.readout(F.silu(cells)).squeeze(-1).mean(dim=1)
