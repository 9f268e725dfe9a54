"""Graph-task networks of the baselines (paper §3): GINE stacks and an edge decoder.

This is the only module of the baselines plugin that imports ``torch_geometric``; the
solver factories import it only for ``graph`` tasks. Inputs are a graph batch (as produced
by the graph tasks) with ``edge_index (2, E)``, ``edge_attr (E, 1)``, ``batch (V,)`` and
``num_graphs`` (``G``); answers are per edge, ``(E, F)``, in the batch's edge order. Node
states start at zero; everything the networks know comes from the edge inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GINEConv, global_mean_pool

from irem_core.errors import IremError
from irem_core.reasoning.graphs import edge_inputs
from irem_core.reasoning.protocols import Task
from irem_plugins.baselines.options import (
    FeedforwardConfig,
    IterativeConfig,
    PonderConfig,
    ProgrammaticConfig,
    RecurrentConfig,
)
from irem_plugins.baselines.solvers import StepCore
from irem_plugins.graph.triangle import ThirdNodeMax

if TYPE_CHECKING:
    from irem_core.reasoning.graphs import GraphBatch

GRAPH_WIDTH = 128
"""Default node width (paper: 128, so the edge decoder is ``Linear(256 → 1)``)."""


class EdgeInputLayer(nn.Linear):
    """``Linear`` over a batch's edge inputs: ``(E, 1)``, or ``(E, 2)`` with the self-pair
    flag (:func:`~irem_core.reasoning.graphs.edge_inputs`); ``(E, H)`` out."""

    def __init__(self, hidden: int, self_pair_input: bool, bias: bool = True) -> None:
        super().__init__(2 if self_pair_input else 1, hidden, bias=bias)
        self.self_pair_input = self_pair_input

    def forward(self, graphs: GraphBatch) -> Tensor:  # type: ignore[override]
        """``W [x_ij (, 1[i = j])] + b`` per edge."""
        return super().forward(edge_inputs(graphs, self.self_pair_input))


def _answer_features(task: Task, solver: str) -> int:
    if getattr(task, "domain", None) != "graph":
        raise IremError(
            f"the graph variant of solver {solver!r} needs a graph task; "
            f"{type(task).__name__} is not one"
        )
    return task.answer_features


def gine_layer(hidden: int, aggregation: str) -> GINEConv:
    r"""``h'_i = Θ(h_i + Σ_j ReLU(h_j + P e_ji + p))`` with ``Θ: Linear(H → H)``, edge width
    ``H``; ``aggregation`` replaces the sum over neighbours ``j`` by their mean or max."""
    return GINEConv(nn.Linear(hidden, hidden), edge_dim=hidden, aggr=aggregation)


@attrs.frozen
class GraphContext:
    """The answer-independent part of a graph solve.

    Attributes:
        graphs: the batch.
        edge_features: embedded edge inputs, ``(E, H)``.
    """

    graphs: GraphBatch
    edge_features: Tensor

    def zero_nodes(self, width: int) -> Tensor:
        """Zero node states, ``(V, width)``."""
        return self.edge_features.new_zeros(self.graphs.batch.shape[0], width)


class EdgeDecoder(nn.Module):
    """``answer_ij = W [h_i, h_j] + b`` for every edge ``i → j`` (the paper's decoder), or
    ``W [h_i, h_j, e_ij] + b`` when the edge's own features are given.

    ``W`` splits into ``[W_s, W_t, W_e]``, so the node terms ``W_s h`` and ``W_t h + b`` are
    computed per node (``V × F``) and gathered per edge, not concatenated per edge (``E × 2H``,
    ``E`` up to ``n`` times ``V``): the same map, a fraction of the work.

    Args:
        hidden: ``H``, node width (the layer is ``Linear(2H → F)``).
        answer_features: ``F``.
        edge_features: width of the edge's own features read beside the nodes (0: none).

    Shapes:
        ``nodes (V, H), edge_index (2, E)[, edge features (E, edge_features)] -> (E, F)``
    """

    def __init__(self, hidden: int, answer_features: int, edge_features: int = 0) -> None:
        super().__init__()
        self.hidden = hidden
        self.linear = nn.Linear(2 * hidden + edge_features, answer_features)

    def forward(
        self, nodes: Tensor, edge_index: Tensor, edge_features: Tensor | None = None
    ) -> Tensor:
        """Per-edge answers ``(E, F)``."""
        weight, hidden = self.linear.weight, self.hidden
        source = F.linear(nodes, weight[:, :hidden])
        target = F.linear(nodes, weight[:, hidden : 2 * hidden], self.linear.bias)
        answers = source.index_select(0, edge_index[0]) + target.index_select(0, edge_index[1])
        if edge_features is None:
            return answers
        return answers + F.linear(edge_features, weight[:, 2 * hidden :])


class GineStack(nn.Module):
    """``layers`` GINE convolutions from zero node states, ReLU after each.

    Args:
        hidden: ``H``, node and edge width.
        layers: number of convolutions.

    Shapes:
        ``context (edge features (E, H)) -> nodes (V, H)``
    """

    def __init__(self, hidden: int, layers: int, aggregation: str) -> None:
        super().__init__()
        self.hidden = hidden
        self.convolutions = nn.ModuleList(gine_layer(hidden, aggregation) for _ in range(layers))

    def forward(self, context: GraphContext, edge_features: Tensor) -> Tensor:
        """Node states ``(V, H)`` after message passing over ``edge_features (E, H)``."""
        nodes = context.zero_nodes(self.hidden)
        for convolution in self.convolutions:
            nodes = F.relu(convolution(nodes, context.graphs.edge_index, edge_features))
        return nodes


class GraphFeedforward(nn.Module):
    """Feed-forward graph baseline: ``ReLU(Linear(1 → H))`` edge embedding, a
    :class:`GineStack`, and the :class:`EdgeDecoder`.

    Shapes:
        ``graphs (E edges) -> answers (E, F)``
    """

    def __init__(
        self,
        answer_features: int,
        hidden: int,
        layers: int,
        aggregation: str,
        self_pair_input: bool,
    ) -> None:
        super().__init__()
        self.embed = EdgeInputLayer(hidden, self_pair_input)
        self.stack = GineStack(hidden, layers, aggregation)
        self.decode = EdgeDecoder(hidden, answer_features)

    def forward(self, graphs: GraphBatch) -> Tensor:
        """Per-edge answers ``(E, F)``."""
        context = GraphContext(graphs, F.relu(self.embed(graphs)))
        return self.decode(self.stack(context, context.edge_features), graphs.edge_index)


class GraphStepCore(StepCore):
    """Shared parts of the graph step cores: the edge embedding and the edge decoder."""

    def __init__(self, answer_features: int, hidden: int, self_pair_input: bool) -> None:
        super().__init__()
        self.width = hidden
        self.embed = EdgeInputLayer(hidden, self_pair_input)
        self.decode = EdgeDecoder(hidden, answer_features)

    def encode(self, inputs: GraphBatch) -> GraphContext:
        """Embed the edge inputs once: ``ReLU(Linear(1 → H))``, ``(E, H)``."""
        return GraphContext(inputs, F.relu(self.embed(inputs)))


class GraphLstmCore(GraphStepCore):
    """Per step and node: ``m = ReLU(GINE(h, e))``, ``(h, c) ← LSTMCell(m, (h, c))``;
    answers from the edge decoder on ``h``; ``(h, c)`` start at zero.

    Each step passes one round of messages, so more steps reach further.

    Shapes:
        - state: ``(h, c)``, each ``(V, H)``
        - readout: ``(E, F)``; summary: mean of ``h`` over each graph's nodes, ``(G, H)``
    """

    def __init__(
        self, answer_features: int, hidden: int, aggregation: str, self_pair_input: bool
    ) -> None:
        super().__init__(answer_features, hidden, self_pair_input)
        self.message = gine_layer(hidden, aggregation)
        self.cell = nn.LSTMCell(hidden, hidden)

    def start(self, context: GraphContext, y0: Tensor) -> tuple[Tensor, Tensor]:
        """Zero hidden and cell states (``y0`` is ignored)."""
        zeros = context.zero_nodes(self.width)
        return zeros, zeros

    def step(self, context: GraphContext, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """One round of messages, then one LSTM step per node."""
        messages = F.relu(self.message(state[0], context.graphs.edge_index, context.edge_features))
        return self.cell(messages, state)

    def readout(self, context: GraphContext, state: tuple[Tensor, Tensor]) -> Tensor:
        """Per-edge answers ``(E, F)``."""
        return self.decode(state[0], context.graphs.edge_index)

    def summary(self, context: GraphContext, state: tuple[Tensor, Tensor]) -> Tensor:
        """Mean hidden state of each graph, ``(G, H)``."""
        return global_mean_pool(state[0], context.graphs.batch, size=context.graphs.num_graphs)


class GraphScratchCore(GraphStepCore):
    """The programmatic module on a per-node scratch pad:
    ``s ← LayerNorm(s + g([s, GINE(s, e)]))``, ``g`` a two-layer ReLU MLP (``2H → H → H``);
    answers from the edge decoder on ``s``; ``s`` starts at zero.

    Shapes:
        - state: ``s (V, H)``; readout: ``(E, F)``
    """

    def __init__(
        self, answer_features: int, hidden: int, aggregation: str, self_pair_input: bool
    ) -> None:
        super().__init__(answer_features, hidden, self_pair_input)
        self.message = gine_layer(hidden, aggregation)
        self.instruction = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)
        )
        self.norm = nn.LayerNorm(hidden)

    def start(self, context: GraphContext, y0: Tensor) -> Tensor:
        """An empty (zero) scratch pad (``y0`` is ignored)."""
        return context.zero_nodes(self.width)

    def step(self, context: GraphContext, state: Tensor) -> Tensor:
        """One application of the instruction."""
        messages = self.message(state, context.graphs.edge_index, context.edge_features)
        return self.norm(state + self.instruction(torch.cat([state, messages], dim=-1)))

    def readout(self, context: GraphContext, state: Tensor) -> Tensor:
        """Per-edge answers ``(E, F)``."""
        return self.decode(state, context.graphs.edge_index)


class GraphAnswerUpdateCore(StepCore):
    """Iterative feed-forward on graphs: ``y ← y + f(x, y)`` per edge, ``f`` a
    :class:`GineStack` over edge features ``e = ReLU(W_x x + W_y y + b)`` and an edge decoder
    on ``[h_i, h_j, e_ij]``, which starts at zero (the untrained network keeps its start).
    With ``triangle = w`` the decoder also reads ``t_ij`` of
    :class:`~irem_plugins.graph.triangle.ThirdNodeMax` over ``e`` (``(E, w)``).

    Unlike the other graph baselines the decoder also reads the edge's own features: the
    update of ``y_ij`` must see ``y_ij`` (``f([y, x])``), and node states alone cannot tell
    which of a node's edges is being decoded, so without it the start's noise could never
    be removed.

    Shapes:
        - context edge features: ``W_x x (E, H)``; state: ``y (E, F)``; readout: ``y``
    """

    def __init__(
        self,
        answer_features: int,
        hidden: int,
        layers: int,
        aggregation: str,
        self_pair_input: bool,
        triangle: int = 0,
    ) -> None:
        super().__init__()
        self.input_layer = EdgeInputLayer(hidden, self_pair_input, bias=False)
        self.answer_layer = nn.Linear(answer_features, hidden)
        self.stack = GineStack(hidden, layers, aggregation)
        self.triangle = ThirdNodeMax(hidden, triangle, "relu") if triangle else None
        self.decode = EdgeDecoder(hidden, answer_features, edge_features=hidden + triangle)
        nn.init.zeros_(self.decode.linear.weight)
        nn.init.zeros_(self.decode.linear.bias)

    def encode(self, inputs: GraphBatch) -> GraphContext:
        """``W_x x``, ``(E, H)``, once per solve."""
        return GraphContext(inputs, self.input_layer(inputs))

    def start(self, context: GraphContext, y0: Tensor) -> Tensor:
        """``y0`` itself."""
        return y0

    def step(self, context: GraphContext, state: Tensor) -> Tensor:
        """``y + f(x, y)``."""
        edge_features = F.relu(context.edge_features + self.answer_layer(state))
        nodes = self.stack(context, edge_features)
        if self.triangle is not None:
            paths = self.triangle(context.graphs, edge_features)
            edge_features = torch.cat([edge_features, paths], dim=-1)
        return state + self.decode(nodes, context.graphs.edge_index, edge_features)

    def readout(self, context: GraphContext, state: Tensor) -> Tensor:
        """The answer ``y``."""
        return state


def feedforward_network(options: FeedforwardConfig, task: Task) -> GraphFeedforward:
    """The feed-forward graph network for ``task``."""
    return GraphFeedforward(
        _answer_features(task, "feedforward"),
        options.hidden or GRAPH_WIDTH,
        options.layers,
        options.aggregation,
        options.self_pair_input,
    )


def lstm_core(options: RecurrentConfig | PonderConfig, task: Task, solver: str) -> GraphLstmCore:
    """The LSTM core of ``recurrent`` and ``ponder`` for ``task``."""
    return GraphLstmCore(
        _answer_features(task, solver),
        options.hidden or GRAPH_WIDTH,
        options.aggregation,
        options.self_pair_input,
    )


def scratch_core(options: ProgrammaticConfig, task: Task) -> GraphScratchCore:
    """The programmatic core for ``task``."""
    return GraphScratchCore(
        _answer_features(task, "programmatic"),
        options.hidden or GRAPH_WIDTH,
        options.aggregation,
        options.self_pair_input,
    )


def update_core(options: IterativeConfig, task: Task) -> GraphAnswerUpdateCore:
    """The iterative feed-forward core for ``task``."""
    return GraphAnswerUpdateCore(
        _answer_features(task, "iterative"),
        options.hidden or GRAPH_WIDTH,
        options.layers,
        options.aggregation,
        options.self_pair_input,
        options.triangle,
    )
