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

from irem_plugins.graph.batching import GraphBatch


class ThirdNodeMax(nn.Module):
    """``t_ij = max_k σ(U r_ik + V r_kj + W r_ij)`` over the nodes ``k`` of each edge's graph.

    ``U, V, W`` are one ``Linear(C → 3w)`` (``W``'s bias is the layer's); ``σ`` is ReLU or
    SiLU. The graphs are laid out as padded ``(G, P, P, w)`` matrices, ``P`` the batch's
    node bound; each edge gathers its row ``i`` of ``U r`` and its column ``j`` of ``V r``
    (``(E, P, w)``) and the padded ``k ≥ n_g`` are left out of the max, so a graph's terms do
    not depend on its batch.

    Args:
        features: ``C``, width of the edge features ``r``.
        width: ``w``.
        activation: ``relu`` or ``silu``.

    Shapes:
        ``graphs (E edges), r (E, C) -> t (E, w)``
    """

    def __init__(self, features: int, width: int, activation: str) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 3 * width)
        self.activation = activation

    def forward(self, graphs: GraphBatch, edge_features: Tensor) -> Tensor:
        """``t`` for every edge, ``(E, w)``."""
        edge_graph = graphs.edge_graph
        offsets = graphs.ptr.index_select(0, edge_graph)
        source, target = graphs.edge_index[0] - offsets, graphs.edge_index[1] - offsets
        first, second, own = self.linear(edge_features).chunk(3, dim=-1)
        shape = (graphs.num_graphs, graphs.node_bound, graphs.node_bound, own.shape[-1])
        place = (edge_graph, source, target)
        rows = first.new_zeros(shape).index_put(place, first)
        columns = first.new_zeros(shape).index_put(place, second)
        through = rows[edge_graph, source] + columns[edge_graph, :, target] + own.unsqueeze(1)
        activated = F.relu(through) if self.activation == "relu" else F.silu(through)
        padded = torch.arange(graphs.node_bound, device=own.device) >= graphs.nodes.index_select(
            0, edge_graph
        ).unsqueeze(-1)
        return activated.masked_fill(padded.unsqueeze(-1), float("-inf")).amax(dim=1)
