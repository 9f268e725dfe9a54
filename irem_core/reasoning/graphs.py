"""Batches of complete directed graphs with self-loops, built directly as batched tensors.

A graph on ``n`` nodes has all ``n²`` edges ``(i, j)``, self-loops included, listed row-major
(edge ``k = i·n + j`` goes from node ``i`` to node ``j``). A batch of ``G`` graphs of mixed
sizes concatenates their nodes and edges graph by graph, PyG style: node indices are offset
by ``ptr``, ``batch`` gives the graph of each node.

Fixed-width storage (replay buffer, chunked evaluation) keeps each graph's ``n²`` edge values
in the first ``n²`` slots of a row of width ``bound²`` (the *prefix layout*), so the layout of
a graph does not depend on the width it is stored at.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor


@attrs.frozen
class GraphBatch:
    """``G`` complete graphs with one scalar input per edge: what the energy model reads.

    Attributes:
        edge_index: source and target node of every edge, ``(2, E)`` int64, ``E = Σ n_g²``.
        edge_attr: edge inputs, ``(E, 1)``.
        batch: graph of every node, ``(V,)`` int64, ``V = Σ n_g``.
        ptr: node offsets, ``(G + 1,)`` int64; graph ``g`` owns nodes ``ptr[g]:ptr[g+1]``.
        nodes: ``n_g`` of every graph, ``(G,)`` int64.
        node_bound: a host-side upper bound on every ``n_g``, so fixed-width storage needs no
            device-to-host read.
    """

    edge_index: Tensor
    edge_attr: Tensor
    batch: Tensor
    ptr: Tensor
    nodes: Tensor
    node_bound: int

    @property
    def num_graphs(self) -> int:
        """``G``."""
        return self.nodes.shape[0]

    @property
    def edge_graph(self) -> Tensor:
        """Graph of every edge, ``(E,)`` int64."""
        return self.batch[self.edge_index[0]]


@attrs.frozen
class CompleteGraphs:
    """The edge enumeration of ``G`` complete graphs, before any values are attached.

    Attributes:
        nodes: ``n_g`` per graph, ``(G,)`` int64.
        node_bound: host-side upper bound on every ``n_g``.
        edge_index: ``(2, E)`` int64, global node indices.
        edge_graph: graph of every edge, ``(E,)`` int64.
        source: local source node ``i`` of every edge, ``(E,)`` int64.
        target: local target node ``j`` of every edge, ``(E,)`` int64.
        slot: prefix-layout slot ``i·n + j`` of every edge, ``(E,)`` int64.
        batch: graph of every node, ``(V,)`` int64.
        ptr: node offsets, ``(G + 1,)`` int64.
    """

    nodes: Tensor
    node_bound: int
    edge_index: Tensor
    edge_graph: Tensor
    source: Tensor
    target: Tensor
    slot: Tensor
    batch: Tensor
    ptr: Tensor

    def from_dense(self, matrices: Tensor) -> Tensor:
        """Edge values ``(E, 1)`` read from per-graph matrices ``(G, P, P)``, ``P ≥ n_g``."""
        return matrices[self.edge_graph, self.source, self.target].unsqueeze(-1)

    def from_padded(self, rows: Tensor) -> Tensor:
        """Edge values ``(E, 1)`` read from prefix-layout rows ``(G, W)``, ``W ≥ n_g²``."""
        return rows[self.edge_graph, self.slot].unsqueeze(-1)

    def graph_batch(self, edge_attr: Tensor) -> GraphBatch:
        """These graphs with edge inputs ``edge_attr (E, 1)``."""
        return GraphBatch(
            self.edge_index, edge_attr, self.batch, self.ptr, self.nodes, self.node_bound
        )


def edge_inputs(graphs: GraphBatch, self_pair_input: bool) -> Tensor:
    """The inputs a model reads per edge, ``(E, 1)``: ``edge_attr``; with
    ``self_pair_input`` ``(E, 2)``: ``edge_attr`` and 1 on the self-pairs ``(i, i)``.

    With zero node features, message passing cannot tell a self-pair from a pair of nodes
    it sees alike (benchmarks/diagnostics/wl_ceiling.py); the flag tells it.
    """
    if not self_pair_input:
        return graphs.edge_attr
    self_pairs = (graphs.edge_index[0] == graphs.edge_index[1]).to(graphs.edge_attr.dtype)
    return torch.cat([graphs.edge_attr, self_pairs.unsqueeze(-1)], dim=-1)


def complete_graphs(nodes: Tensor, node_bound: int) -> CompleteGraphs:
    """Enumerate the edges of complete graphs with ``nodes`` nodes each.

    Args:
        nodes: ``n_g`` per graph, ``(G,)`` int64, every value in ``1..node_bound``.
        node_bound: upper bound on ``n_g`` (a Python int).

    Returns:
        The enumeration, graph by graph, row-major within a graph. The data-dependent sizes
        ``E`` and ``V`` are read from the device here, once per batch (never in a solve).
    """
    slots = torch.arange(node_bound * node_bound, device=nodes.device)
    present = slots < (nodes * nodes)[:, None]
    edge_graph, slot = present.nonzero(as_tuple=True)
    size = nodes[edge_graph]
    source, target = slot // size, slot % size
    ptr = torch.zeros(nodes.shape[0] + 1, dtype=torch.long, device=nodes.device)
    ptr[1:] = nodes.cumsum(0)
    offset = ptr[edge_graph]
    batch = torch.repeat_interleave(torch.arange(nodes.shape[0], device=nodes.device), nodes)
    return CompleteGraphs(
        nodes,
        node_bound,
        torch.stack([source + offset, target + offset]),
        edge_graph,
        source,
        target,
        slot,
        batch,
        ptr,
    )


def edge_slots(graphs: GraphBatch) -> Tensor:
    """Prefix-layout slot ``i·n + j`` of every edge of ``graphs``, ``(E,)`` int64."""
    graph = graphs.edge_graph
    offset = graphs.ptr[graph]
    source, target = graphs.edge_index[0] - offset, graphs.edge_index[1] - offset
    return source * graphs.nodes[graph] + target


def to_padded(values: Tensor, graphs: GraphBatch, node_bound: int) -> Tensor:
    """Per-edge values ``(E, 1)`` as prefix-layout rows ``(G, node_bound²)``, zero-padded."""
    padded = values.new_zeros(graphs.num_graphs, node_bound * node_bound)
    padded[graphs.edge_graph, edge_slots(graphs)] = values.squeeze(-1)
    return padded


def select_graphs(graphs: GraphBatch, problems: Tensor) -> tuple[GraphBatch, Tensor]:
    """The graphs ``problems`` of a batch, renumbered ``0..B'−1`` keeping their order.

    Args:
        graphs: the batch.
        problems: sorted graph indices, ``(B',)`` int64.

    Returns:
        The smaller batch and the ``(E,)`` bool mask of the edges it keeps (its edges are
        the kept edges in their original order).
    """
    kept = torch.zeros(graphs.num_graphs, dtype=torch.bool, device=problems.device)
    kept[problems] = True
    edges = kept[graphs.edge_graph]
    layout = complete_graphs(graphs.nodes[problems], graphs.node_bound)
    return layout.graph_batch(graphs.edge_attr[edges]), edges
