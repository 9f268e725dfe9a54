"""The paper's graph energy: GINE message passing over edge inputs and edge answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import attrs
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch_geometric.nn import GINEConv, global_max_pool
from torch_geometric.utils import scatter

from irem_core.errors import IremError
from irem_core.reasoning.graphs import GraphBatch, edge_inputs, select_graphs
from irem_core.reasoning.protocols import Task
from irem_plugins.graph.energy import GineEnergyConfig
from irem_plugins.graph.triangle import ThirdNodeMax


@attrs.frozen
class GineContext:
    """The answer-independent part of a solve, from :meth:`GineEnergy.encode`.

    Edge features of layer ``l`` are affine in the scalar answer: ``e_l = offset_l + y ·
    slope_l``.

    Attributes:
        graphs: the batch.
        nodes: initial node features (zeros), ``(V, 1)``.
        edge_offsets: ``offset_l``, ``(E, C_l)`` per layer (``C_1 = 1``, then ``h``).
        edge_slopes: ``slope_l``, ``(C_l,)`` per layer.
        readout_offset: with ``readout = "edges"``, the readout's edge term ``(E, h)``, affine
            in the answer like the layers' (``readout_offset + y · readout_slope``); else
            ``None``.
        readout_slope: its answer direction, ``(h,)``, or ``None``.
    """

    graphs: GraphBatch
    nodes: Tensor
    edge_offsets: list[Tensor]
    edge_slopes: list[Tensor]
    readout_offset: Tensor | None = None
    readout_slope: Tensor | None = None


class GineEnergy(nn.Module):
    r"""``E(x, y)``: GINE convolutions over edge embeddings, read out per graph.

    The edge embedding is ``[W_x x_ij + b_x, W_y y_ij + b_y]`` (``h/2`` each); node features
    start at zero (width 1); each layer is a :class:`~torch_geometric.nn.conv.GINEConv`

    .. math::
        \mathbf{h}'_i = \Theta_l \Big( \mathbf{h}_i + \sum_j \mathrm{ReLU}\big(\mathbf{h}_j
        + P_l\,\mathbf{e}_{ji} + \mathbf{p}_l\big) \Big)

    with a single linear layer ``Θ_l`` (``1→h``, then ``h→h``) and the edge projection
    ``P_l`` (``h→1``, then ``h→h``) of ``GINEConv(edge_dim=h)``. The sum over neighbours is
    the paper's; ``aggregation = "mean"`` or ``"max"`` replaces it (docs/graph.md: with the
    sum, activations grow ∝ n² over three layers and bigger graphs fail). As in the release, no
    activation sits between convolutions (the message ReLU is the non-linearity; ``activation
    = "silu"`` replaces it and the readout's ReLU by SiLU). The energy
    is ``Linear(h→1)(ReLU(Linear(h→h)(max_i h_i)))``, one scalar per graph; the parameter count
    equals the release's (``h = 128``: 83,330). ``readout = "edges"`` instead sums a term per
    edge, ``Σ_ij Linear(h→1)(σ(A h_i + B h_j + P e_ij + b))`` over the graph's edges, where
    ``e_ij`` is the edge embedding and ``A, B`` the ``readout_nodes`` layer (``h → 2h``,
    no bias): each answer's gradient then has a local term that does not shrink with the
    graph's size (docs/graph.md); ``triangle = w`` adds to each edge's term ``Q t_ij``, ``t_ij
    = max_k σ(U r_ik + V r_kj + W r_ij)`` over the graph's nodes ``k`` (``r`` the readout's edge
    embedding, :class:`~irem_plugins.graph.triangle.ThirdNodeMax`, ``Q`` ``triangle_out``), a
    comparison of the answer with every two-edge path. The layers are ``GINEConv`` modules (their
    weights, ``eps`` and aggregation); :meth:`forward` and :meth:`energy_and_gradient` both
    run them written out by :meth:`_propagate` (tested equal to ``GINEConv``'s own forward),
    so the two activations share one path.

    The edge term is affine in the answer, so :meth:`encode` precomputes its input part
    ``P_l [W_x x + b_x; b_y] + p_l`` and the answer direction ``P_l^{(y)} W_y``; each step then
    costs one fused multiply-add per layer on the edges instead of an ``h × h`` matmul.

    Args:
        options: :class:`GineEnergyConfig`.
        task: a ``graph`` task with one answer feature per edge.

    Shapes:
        - encode: ``GraphBatch (E edges, V nodes, G graphs) -> GineContext``
        - select: ``context, problems (G',) -> context`` of those graphs only
        - forward: ``context, y (E, 1) -> energies (G,)``
        - energy_and_gradient: ``context, y (E, 1) -> energies (G,), ∇_y E (E, 1)``
    """

    def __init__(self, options: GineEnergyConfig, task: Task) -> None:
        super().__init__()
        if getattr(task, "domain", None) != "graph" or getattr(task, "answer_features", None) != 1:
            raise IremError(
                f"energy model 'gine' needs a graph task with one answer feature per "
                f"edge; {type(task).__name__} is not one"
            )
        hidden, half = options.hidden, options.hidden // 2
        self.self_pair_input = options.self_pair_input
        self.activation = options.activation
        self.input_embedding = nn.Linear(2 if options.self_pair_input else 1, half)
        self.answer_embedding = nn.Linear(1, half)
        widths = [1] + [hidden] * options.layers
        self.edge_projections = nn.ModuleList(nn.Linear(hidden, width) for width in widths[:-1])
        self.convolutions = nn.ModuleList(
            GINEConv(nn.Linear(width, hidden), aggr=options.aggregation) for width in widths[:-1]
        )
        self.readout = nn.Sequential(
            nn.Linear(hidden, hidden),
            nn.ReLU() if options.activation == "relu" else nn.SiLU(),
            nn.Linear(hidden, 1),
        )
        self.readout_kind = options.readout
        if options.readout == "edges":  # readout[0] is then P, b on the edge embedding
            self.readout_nodes = nn.Linear(hidden, 2 * hidden, bias=False)
            # a sum of edge terms has per-edge gradients ~50x the max readout's at the same
            # initialisation, so λ = 100 would throw the first descents far off: the output
            # starts at zero (a flat energy) and training grows it
            nn.init.zeros_(cast(nn.Linear, self.readout[2]).weight)
        self.landscapes = options.landscapes
        if options.landscapes:  # row k: landscape k's shift of the first layer's edge term
            width = cast(nn.Linear, self.edge_projections[0]).out_features
            self.landscape_table = nn.Parameter(torch.zeros(options.landscapes, width))
        self.triangle: ThirdNodeMax | None = None
        if options.triangle:  # t_ij, and its projection into the edge term
            self.triangle = ThirdNodeMax(hidden, options.triangle, options.activation)
            self.triangle_out = nn.Linear(options.triangle, hidden, bias=False)

    def encode(self, inputs: GraphBatch) -> GineContext:
        """Precompute every layer's answer-independent edge term (see the class docstring)."""
        half = self.input_embedding.out_features
        input_embedding = self.input_embedding(edge_inputs(inputs, self.self_pair_input))
        projections = list(cast(Iterable[nn.Linear], self.edge_projections))
        if self.readout_kind == "edges":
            projections.append(cast(nn.Linear, self.readout[0]))
        offsets, slopes = [], []
        for projection in projections:
            input_part, answer_part = projection.weight[:, :half], projection.weight[:, half:]
            bias = projection.bias + answer_part @ self.answer_embedding.bias
            offsets.append(F.linear(input_embedding, input_part, bias))
            slopes.append(answer_part @ self.answer_embedding.weight.squeeze(-1))
        nodes = inputs.edge_attr.new_zeros(inputs.batch.shape[0], 1)
        if self.readout_kind == "edges":
            return GineContext(inputs, nodes, offsets[:-1], slopes[:-1], offsets[-1], slopes[-1])
        return GineContext(inputs, nodes, offsets, slopes)

    def condition(self, context: GineContext, landscapes: Tensor) -> GineContext:
        """The context of graph ``b`` on landscape ``landscapes[b]`` (``(G,)``): the table's
        row added to the first layer's edge term of every edge of the graph."""
        if not self.landscapes:
            raise IremError(
                "energy model 'gine' has no landscapes; set its option landscapes = K "
                "(e.g. --set solver.energy.landscapes=10)"
            )
        shift = self.landscape_table[landscapes][context.graphs.edge_graph]
        first, *rest = context.edge_offsets
        return attrs.evolve(context, edge_offsets=[first + shift, *rest])

    def select(self, context: GineContext, problems: Tensor) -> GineContext:
        """The context of graphs ``problems`` only (sorted ``(G',)``), for per-problem halting."""
        graphs, edges = select_graphs(context.graphs, problems)
        return GineContext(
            graphs,
            context.nodes.new_zeros(graphs.batch.shape[0], 1),
            [offset[edges] for offset in context.edge_offsets],
            context.edge_slopes,
            None if context.readout_offset is None else context.readout_offset[edges],
            context.readout_slope,
        )

    def forward(self, context: GineContext, answer: Tensor) -> Tensor:
        """Energies ``(G,)`` of per-edge answers ``(E, 1)``."""
        graphs = context.graphs
        hidden, _ = self._propagate(context, answer)
        if self.readout_kind == "edges":
            edge_energies, _, _ = self._edge_readout(context, hidden, answer)
            return scatter(edge_energies, graphs.edge_graph, 0, graphs.num_graphs, reduce="sum")
        pooled = global_max_pool(hidden, graphs.batch, size=graphs.num_graphs)
        return self.readout(pooled).squeeze(-1)

    def _edge_readout(
        self, context: GineContext, hidden: Tensor, answer: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``readout = "edges"``: every edge's energy term ``(E,)``, with the readout's
        pre-activations and activations ``(E, h)``."""
        source, target = context.graphs.edge_index[0], context.graphs.edge_index[1]
        from_source, from_target = self.readout_nodes(hidden).chunk(2, dim=-1)
        edge_term = torch.addcmul(
            cast(Tensor, context.readout_offset), answer, cast(Tensor, context.readout_slope)
        )
        inputs = from_source.index_select(0, source) + from_target.index_select(0, target)
        inputs = inputs + edge_term
        if self.triangle is not None:
            inputs = inputs + self.triangle_out(self.triangle(context.graphs, edge_term))
        activated = self.readout[1](inputs)
        return self.readout[2](activated).squeeze(-1), inputs, activated

    def energy_and_gradient(
        self, context: GineContext, answer: Tensor
    ) -> tuple[Tensor, Tensor] | None:
        r"""Energies ``(G,)`` and ``∇_y E``, ``(E, 1)``, backpropagated by hand (the
        :class:`~irem_core.reasoning.protocols.GradientEnergy` capability), for every aggregation and
        both activations.

        The forward pass is :meth:`forward`'s written out: messages ``m = σ(u)`` of the
        pre-activations ``u = h_j + e_ji`` (``σ`` ReLU or SiLU) aggregated at ``i`` into
        ``a_i``, ``h'_i = Θ_l (a_i + (1 + ε) h_i)``. Going back, a node's gradient ``g``
        becomes ``g Θ_l`` on ``a`` and ``(1 + ε) g Θ_l`` on ``h``; an edge receives its
        target's share of ``a``'s gradient (all of it for ``sum``, ``1/deg`` for ``mean``, for
        ``max`` split evenly among the messages equal to the maximum, as torch's
        ``scatter_reduce`` backward does), times ``σ'(u)``; it passes on to its source node
        and, through ``e = offset + y · slope``, to ``y``. The max pooling of the readout is
        differentiated like ``max`` aggregation, the readout's ``σ`` like the messages'.

        With ReLU the gradient is piecewise constant: the answer and the inputs reach it only
        through the ReLU masks and the max's winners, whose derivative is zero. So its graph
        holds the weights and edge slopes alone (training's backward never revisits the
        forward pass), and the parameters that act only through the masks (the input
        embedding and the biases) get no gradient where autograd's double backward gives them
        zeros. SiLU's ``σ'(u) = s(u)(1 + u(1 − s(u)))``, ``s = sigmoid``, is smooth: the
        pre-activations stay in the graph, and through them the input embedding and the
        biases are trained. Without
        grad mode ``⊙ σ'`` is torch's fused ``threshold_backward`` / ``silu_backward`` (one
        pass, as autograd's first-order backward); with it SiLU's is the formula (the fused
        kernel has no derivative). ``None`` (autograd) for a subclass overriding ``forward``
        and with the ``triangle`` term.
        """
        if type(self).forward is not GineEnergy.forward or self.triangle is not None:
            return None
        graphs = context.graphs
        source, target = graphs.edge_index[0], graphs.edge_index[1]
        hidden, saved = self._propagate(context, answer)
        if self.readout_kind == "edges":
            energies, node_gradient, answer_gradient = self._edge_readout_backward(
                context, hidden, answer
            )
        else:
            energies, node_gradient = self._max_readout_backward(context, hidden)
            answer_gradient = torch.zeros_like(answer)
        layers = list(zip(cast(Iterable[GINEConv], self.convolutions), context.edge_slopes, saved))
        for depth in range(len(layers) - 1, -1, -1):
            convolution, slope, (inputs, messages, aggregated) = layers[depth]
            combined = node_gradient @ cast(nn.Linear, convolution.nn).weight
            if convolution.aggr == "max":
                message_gradient = _max_backward(messages, target, aggregated, combined)
            elif convolution.aggr == "mean":
                ones = torch.ones_like(messages[:, :1])
                degree = _sum_into(combined[:, :1], target, ones).clamp(min=1)
                message_gradient = (combined / degree).index_select(0, target)
            else:
                message_gradient = combined.index_select(0, target)
            message_gradient = self._activation_backward(message_gradient, inputs, messages)
            answer_gradient = answer_gradient + message_gradient @ slope.unsqueeze(-1)
            if depth:  # the first layer's node features are constant zeros
                node_gradient = _wide((1 + convolution.eps) * combined).index_add(
                    0, source, _wide(message_gradient)
                )
        return energies, answer_gradient

    def _max_readout_backward(self, context: GineContext, hidden: Tensor) -> tuple[Tensor, Tensor]:
        """``readout = "max"``: energies ``(G,)`` and their gradients in the last node
        features ``(V, h)``."""
        graphs = context.graphs
        pooled = scatter(hidden, graphs.batch, 0, graphs.num_graphs, reduce="max")
        first, activate, last = cast(Iterable[nn.Module], self.readout)
        readout = first(pooled)
        activated = activate(readout)
        energies = last(activated).squeeze(-1)
        first, last = cast(nn.Linear, first), cast(nn.Linear, last)
        gradient = (
            self._activation_backward(last.weight.expand_as(readout), readout, activated)
            @ first.weight
        )
        return energies, _max_backward(hidden, graphs.batch, pooled, gradient)

    def _edge_readout_backward(
        self, context: GineContext, hidden: Tensor, answer: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``readout = "edges"``: energies ``(G,)`` and their gradients in the last node
        features ``(V, h)`` and, through the readout's own edge term, in the answer
        ``(E, 1)``."""
        graphs = context.graphs
        source, target = graphs.edge_index[0], graphs.edge_index[1]
        edge_energies, inputs, activated = self._edge_readout(context, hidden, answer)
        energies = scatter(edge_energies, graphs.edge_graph, 0, graphs.num_graphs, reduce="sum")
        last = cast(nn.Linear, self.readout[2])
        edge_gradient = self._activation_backward(last.weight.expand_as(inputs), inputs, activated)
        answer_gradient = edge_gradient @ cast(Tensor, context.readout_slope).unsqueeze(-1)
        to_source, to_target = self.readout_nodes.weight.chunk(2, dim=0)
        node_gradient = _sum_into(hidden, source, edge_gradient) @ to_source
        node_gradient = node_gradient + _sum_into(hidden, target, edge_gradient) @ to_target
        return energies, node_gradient, answer_gradient

    def _activation_backward(self, gradient: Tensor, inputs: Tensor, outputs: Tensor) -> Tensor:
        """``gradient ⊙ σ'(inputs)``, where ``outputs = σ(inputs)``.

        ReLU's derivative is torch's (one fused pass) with the mask detached: its derivative
        is zero, so the training backward need not revisit the forward pass. SiLU's depends
        on ``inputs``: without grad mode it is torch's fused ``silu_backward``; with it (the
        fused kernel has no derivative) the formula ``s(u)(1 + u(1 − s(u))) = s(u)(1 + u −
        σ(u))``, ``s = sigmoid``, whose second form reuses the outputs: three fewer
        elementwise passes over the edges, forward and backward together, than the first
        (about 10 % of a differentiated gradient and its backward; docs/performance.md).
        """
        if self.activation == "relu":
            return torch.ops.aten.threshold_backward(gradient, outputs.detach(), 0.0)
        if not torch.is_grad_enabled():
            return torch.ops.aten.silu_backward(gradient, inputs)
        return gradient * (torch.sigmoid(inputs) * (inputs + 1 - outputs))

    def _propagate(
        self, context: GineContext, answer: Tensor
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor, Tensor]]]:
        """The convolutions written out: node features ``(V, h)`` after the last, and per
        layer the messages' pre-activations and activations ``(E, h)`` and their aggregates
        ``(V, h)``."""
        graphs, hidden = context.graphs, context.nodes
        source, target = graphs.edge_index[0], graphs.edge_index[1]
        activate = F.relu if self.activation == "relu" else F.silu
        saved = []
        for convolution, offset, slope in zip(
            cast(Iterable[GINEConv], self.convolutions), context.edge_offsets, context.edge_slopes
        ):
            inputs = hidden.index_select(0, source) + torch.addcmul(offset, answer, slope)
            messages = activate(inputs)
            aggregated = scatter(
                messages, target, 0, hidden.shape[0], reduce=cast(str, convolution.aggr)
            )
            saved.append((inputs, messages, aggregated))
            hidden = cast(nn.Linear, convolution.nn)(aggregated + (1 + convolution.eps) * hidden)
        return hidden, saved


def _wide(values: Tensor) -> Tensor:
    """``values`` in at least float32: sums accumulate in it (under bf16 autocast the node
    features are bf16, whose 8-bit mantissa loses a node's many small edge terms)."""
    return values.to(torch.promote_types(values.dtype, torch.float32))


def _sum_into(like: Tensor, index: Tensor, values: Tensor) -> Tensor:
    """Sums of the rows of ``values`` ``(N, C)`` per ``index`` into ``(len(like), C)``
    zeros, accumulated in at least float32 (:func:`_wide`)."""
    values = _wide(values)
    return values.new_zeros(like.shape).index_add_(0, index, values)


def _max_backward(values: Tensor, index: Tensor, maxima: Tensor, gradient: Tensor) -> Tensor:
    """The gradient ``(N, C)`` of ``values`` from that of their per-``index`` maxima
    ``maxima`` (``gradient``, both ``(K, C)``), split evenly among the values equal to the
    maximum, as torch's ``scatter_reduce(..., "amax")`` backward does."""
    winners = _wide((values == maxima.index_select(0, index)).to(values.dtype))
    ties = _sum_into(maxima, index, winners)
    return (gradient / ties.clamp(min=1)).index_select(0, index) * winners
