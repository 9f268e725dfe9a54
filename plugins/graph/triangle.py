"""A pair's view of every two-edge path: ``t_ij = max_k σ(U r_ik + V r_kj + W r_ij)``.

Message passing gives every node one feature vector of fixed width, and a pair ``(i, j)``
is decoded from its two nodes' vectors and its own edge. On complete graphs that cannot
compare ``y_ij`` with the paths ``i → k → j``: it would need the whole row ``i`` and column
``j`` matched node by node, which a fixed width loses as ``n`` grows (docs/graph.md,
hypothesis 12). This term reads them directly, at ``O(n³ w)`` per graph.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from irem_core.reasoning.graphs import GraphBatch


class ThirdNodeMax(nn.Module):
    """``t_ij = max_k σ(U r_ik + V r_kj + W r_ij)`` over the nodes ``k`` of each edge's graph.

    ``U, V, W`` are one ``Linear(C → 3w)`` (``W``'s bias is the layer's); ``σ`` is ReLU or
    SiLU. The graphs are laid out as padded ``(G, P, P, w)`` matrices, ``P`` the batch's
    node bound, and the padded ``k ≥ n_g`` are left out of the max, so a graph's terms do
    not depend on its batch.

    The maximising ``k`` of each edge and channel is found without autograd, ``chunk``
    elements of the ``(E, P, w)`` candidates at a time; ``t`` is then the activation of the
    chosen ``U r_ik + V r_kj + W r_ij``, gathered differentiably. Its value and gradient are
    the max's (autograd splits a tie's gradient between the tied ``k``, this picks one), and
    autograd keeps ``(E, w)`` tensors instead of ``(E, P, w)`` ones, which is what training
    (double backward) and long descents on big graphs pay for.

    Args:
        features: ``C``, width of the edge features ``r``.
        width: ``w``.
        activation: ``relu`` or ``silu``.
        chunk: candidates ``(edges × P × w)`` evaluated at once while searching the max.

    Shapes:
        ``graphs (E edges), r (E, C) -> t (E, w)``
    """

    def __init__(self, features: int, width: int, activation: str, chunk: int = 1 << 22) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 3 * width)
        self.activation = activation
        self.chunk = chunk

    def forward(self, graphs: GraphBatch, edge_features: Tensor) -> Tensor:
        """``t`` for every edge, ``(E, w)``."""
        edge_graph = graphs.edge_graph
        offsets = graphs.ptr.index_select(0, edge_graph)
        source, target = graphs.edge_index[0] - offsets, graphs.edge_index[1] - offsets
        first, second, own = self.linear(edge_features).chunk(3, dim=-1)
        bound, width = graphs.node_bound, own.shape[-1]
        place = (edge_graph, source, target)
        shape = (graphs.num_graphs, bound, bound, width)
        rows = first.new_zeros(shape).index_put(place, first)  # rows[g, i, k] = U r_ik
        columns = second.new_zeros(shape).index_put(place, second)  # columns[g, k, j] = V r_kj
        chosen = self._maximisers(graphs, rows, columns, own, place)  # (E, w)
        flat_rows = rows.reshape(-1, width)
        flat_columns = columns.reshape(-1, width)
        row_start = ((edge_graph * bound + source) * bound).unsqueeze(-1)
        column_start = (edge_graph * bound * bound + target).unsqueeze(-1)
        through = (
            flat_rows.gather(0, row_start + chosen)
            + flat_columns.gather(0, column_start + chosen * bound)
            + own
        )
        return self._activate(through)

    def _activate(self, values: Tensor) -> Tensor:
        return F.relu(values) if self.activation == "relu" else F.silu(values)

    @torch.no_grad()
    def _maximisers(
        self,
        graphs: GraphBatch,
        rows: Tensor,
        columns: Tensor,
        own: Tensor,
        place: tuple[Tensor, Tensor, Tensor],
    ) -> Tensor:
        """The ``k`` of each edge's max, per channel, ``(E, w)`` int64."""
        edge_graph, source, target = place
        bound = graphs.node_bound
        nodes = graphs.nodes.index_select(0, edge_graph)
        candidates = torch.arange(bound, device=own.device)
        by_target = columns.transpose(1, 2).contiguous()  # by_target[g, j, k] = V r_kj
        step = max(1, self.chunk // (bound * own.shape[-1]))
        chosen = []
        for start in range(0, own.shape[0], step):
            part = slice(start, start + step)
            graph, i, j = edge_graph[part], source[part], target[part]
            through = rows[graph, i] + by_target[graph, j] + own[part].unsqueeze(1)
            padded = candidates >= nodes[part].unsqueeze(-1)
            scores = self._activate(through).masked_fill(padded.unsqueeze(-1), float("-inf"))
            chosen.append(scores.max(dim=1).indices)  # 3× faster than argmax(dim=1) on CPU
        return torch.cat(chosen)
