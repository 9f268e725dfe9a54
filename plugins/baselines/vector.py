"""Vector-task networks of the baselines (paper §3): MLPs and recurrent cores on ``x (B, D_x)``.

Every function here builds a network for a ``vector`` task, which must declare
``input_features`` (``D_x``) and ``answer_features`` (``F``); answers are ``(B, F)``.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irem_core.errors import IremError
from irem_core.reasoning.layers import init_as_concatenation
from irem_core.reasoning.protocols import Task
from irem_plugins.baselines.options import (
    FeedforwardConfig,
    IterativeConfig,
    PonderConfig,
    ProgrammaticConfig,
    RecurrentConfig,
)
from irem_plugins.baselines.solvers import StepCore

MLP_WIDTH = 512
"""Default width of the MLPs (the energy's width in the paper)."""

LSTM_WIDTH = 196
"""Default LSTM width (paper: the recurrent baseline's 196)."""


def _features(task: Task, solver: str) -> tuple[int, int]:
    input_features = getattr(task, "input_features", None)
    if input_features is None:
        raise IremError(
            f"solver {solver!r} needs a vector task with input_features; "
            f"{type(task).__name__} has none"
        )
    return input_features, task.answer_features


class MlpNetwork(nn.Module):
    """``y = W_out ReLU(... ReLU(W_1 x + b_1) ...) + b_out``: the feed-forward baseline.

    Args:
        input_features: ``D_x``.
        answer_features: ``F``.
        hidden: width of every hidden layer.
        layers: number of hidden layers.

    Shapes:
        ``x (B, D_x) -> y (B, F)``
    """

    def __init__(self, input_features: int, answer_features: int, hidden: int, layers: int) -> None:
        super().__init__()
        widths = [input_features] + [hidden] * layers
        blocks: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            blocks += [nn.Linear(width_in, width_out), nn.ReLU()]
        self.layers = nn.Sequential(*blocks, nn.Linear(hidden, answer_features))

    def forward(self, inputs: Tensor) -> Tensor:
        """Answers ``(B, F)``."""
        return self.layers(inputs)


class LstmCore(StepCore):
    """Per step: ``e = ReLU(W_x x + b)`` (the same every step, computed once),
    ``(h, c) ← LSTMCell(e, (h, c))``, answer ``W_y h + b_y``; ``(h, c)`` start at zero.

    Args:
        input_features: ``D_x``.
        answer_features: ``F``.
        hidden: ``H``, the LSTM width.

    Shapes:
        - context: ``(B, H)``; state: ``(h, c)``, each ``(B, H)``
        - readout: ``(B, F)``; summary: ``h (B, H)``
    """

    def __init__(self, input_features: int, answer_features: int, hidden: int) -> None:
        super().__init__()
        self.width = hidden
        self.embed = nn.Linear(input_features, hidden)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.decode = nn.Linear(hidden, answer_features)

    def encode(self, inputs: Tensor) -> Tensor:
        """``ReLU(W_x x + b)``, ``(B, H)``."""
        return F.relu(self.embed(inputs))

    def start(self, context: Tensor, y0: Tensor) -> tuple[Tensor, Tensor]:
        """Zero hidden and cell states (``y0`` is ignored)."""
        zeros = context.new_zeros(context.shape)
        return zeros, zeros

    def step(self, context: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """One LSTM step on the embedded input."""
        return self.cell(context, state)

    def readout(self, context: Tensor, state: tuple[Tensor, Tensor]) -> Tensor:
        """``W_y h + b_y``, ``(B, F)``."""
        return self.decode(state[0])

    def summary(self, context: Tensor, state: tuple[Tensor, Tensor]) -> Tensor:
        """``h``, ``(B, H)``."""
        return state[0]


class ScratchCore(StepCore):
    """The programmatic baseline's module: ``s ← LayerNorm(s + g([s, e]))`` on a scratch pad.

    ``e = ReLU(W_x x + b)`` is read at every step; ``g`` is a two-layer ReLU MLP
    (``2H → H → H``), the one learned instruction; the answer is read from the scratch pad
    with ``W_y s + b_y``. The scratch starts at zero; the LayerNorm keeps it bounded however
    many times the module runs.

    Args:
        input_features: ``D_x``.
        answer_features: ``F``.
        hidden: ``H``, the scratch width.

    Shapes:
        - context: ``(B, H)``; state: ``s (B, H)``
        - readout: ``(B, F)``
    """

    def __init__(self, input_features: int, answer_features: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Linear(input_features, hidden)
        self.instruction = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)
        )
        self.norm = nn.LayerNorm(hidden)
        self.decode = nn.Linear(hidden, answer_features)

    def encode(self, inputs: Tensor) -> Tensor:
        """``ReLU(W_x x + b)``, ``(B, H)``."""
        return F.relu(self.embed(inputs))

    def start(self, context: Tensor, y0: Tensor) -> Tensor:
        """An empty (zero) scratch pad (``y0`` is ignored)."""
        return context.new_zeros(context.shape)

    def step(self, context: Tensor, state: Tensor) -> Tensor:
        """One application of the instruction."""
        return self.norm(state + self.instruction(torch.cat([state, context], dim=-1)))

    def readout(self, context: Tensor, state: Tensor) -> Tensor:
        """``W_y s + b_y``, ``(B, F)``."""
        return self.decode(state)


class AnswerUpdateCore(StepCore):
    """Iterative feed-forward: ``y ← y + f([y, x])``, ``f`` an MLP shaped like the energy's.

    ``f = W_out swish(... swish(W_y y + W_x x + b_1) ...) + b_out`` with ``layers`` hidden
    layers; ``W_x x`` is computed once per solve. The state is the answer itself, so the
    solver continues from ``y0`` (and from the trainer's replayed answers). ``W_out`` and
    ``b_out`` start at zero: the untrained network keeps its start instead of amplifying it
    at every step.

    Args:
        input_features: ``D_x``.
        answer_features: ``F``.
        hidden: ``H``.
        layers: hidden layers of ``f``.

    Shapes:
        - context: ``W_x x (B, H)``; state: ``y (B, F)``
        - readout: ``y (B, F)``
    """

    def __init__(self, input_features: int, answer_features: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.answer_layer = nn.Linear(answer_features, hidden)
        self.input_layer = nn.Linear(input_features, hidden, bias=False)
        self.hidden_layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers - 1))
        self.output_layer = nn.Linear(hidden, answer_features)
        init_as_concatenation([self.answer_layer, self.input_layer])
        nn.init.zeros_(self.output_layer.weight)
        nn.init.zeros_(self.output_layer.bias)

    def encode(self, inputs: Tensor) -> Tensor:
        """``W_x x``, ``(B, H)``."""
        return self.input_layer(inputs)

    def start(self, context: Tensor, y0: Tensor) -> Tensor:
        """``y0`` itself."""
        return y0

    def step(self, context: Tensor, state: Tensor) -> Tensor:
        """``y + f([y, x])``."""
        hidden = F.silu(self.answer_layer(state) + context)
        for layer in self.hidden_layers:
            hidden = F.silu(layer(hidden))
        return state + self.output_layer(hidden)

    def readout(self, context: Tensor, state: Tensor) -> Tensor:
        """The answer ``y``."""
        return state


def feedforward_network(options: FeedforwardConfig, task: Task) -> MlpNetwork:
    """The feed-forward MLP for ``task``."""
    input_features, answer_features = _features(task, "feedforward")
    return MlpNetwork(input_features, answer_features, options.hidden or MLP_WIDTH, options.layers)


def lstm_core(options: RecurrentConfig | PonderConfig, task: Task, solver: str) -> LstmCore:
    """The LSTM core of ``recurrent`` and ``ponder`` for ``task``."""
    input_features, answer_features = _features(task, solver)
    return LstmCore(input_features, answer_features, options.hidden or LSTM_WIDTH)


def scratch_core(options: ProgrammaticConfig, task: Task) -> ScratchCore:
    """The programmatic core for ``task``."""
    input_features, answer_features = _features(task, "programmatic")
    return ScratchCore(input_features, answer_features, options.hidden or MLP_WIDTH)


def update_core(options: IterativeConfig, task: Task) -> AnswerUpdateCore:
    """The iterative feed-forward core for ``task``."""
    input_features, answer_features = _features(task, "iterative")
    if options.triangle:
        raise IremError(
            f"solver.triangle ({options.triangle}) is a graph option: task "
            f"{type(task).__name__} has no graph; leave it at 0"
        )
    return AnswerUpdateCore(
        input_features, answer_features, options.hidden or MLP_WIDTH, options.layers
    )
