"""Batched graph labels on dense ``(G, P, P)`` matrices: shortest paths and components.

Graphs smaller than ``P`` are padded: padded nodes carry no edges (``inf`` weight, ``False``
adjacency), so they never change a label between real nodes.
"""

from __future__ import annotations

import torch
from torch import Tensor


def pair_mask(nodes: Tensor, node_bound: int) -> Tensor:
    """``True`` at ``(g, i, j)`` when both ``i`` and ``j`` are nodes of graph ``g``.

    Shapes:
        ``nodes (G,) -> (G, node_bound, node_bound)`` bool.
    """
    present = torch.arange(node_bound, device=nodes.device) < nodes[:, None]
    return present[:, :, None] & present[:, None, :]


def shortest_path_lengths(weights: Tensor) -> Tensor:
    """All-pairs shortest-path lengths by batched Floyd–Warshall (``P`` min-plus updates).

    Args:
        weights: edge weights ``(G, P, P)``, non-negative, ``inf`` where there is no edge,
            zero diagonal.

    Returns:
        Distances ``(G, P, P)``; ``inf`` between nodes that are not connected.
    """
    distance = weights
    for via in range(weights.shape[-1]):
        distance = torch.minimum(distance, distance[:, :, via, None] + distance[:, None, via, :])
    return distance


def same_component(adjacency: Tensor) -> Tensor:
    """Whether two nodes lie in one connected component of the undirected graph.

    Computes the transitive closure of ``A ∨ Aᵀ ∨ I`` by repeated boolean squaring
    (``⌈log₂(P − 1)⌉`` batched matmuls).

    Args:
        adjacency: ``(G, P, P)`` bool; direction is ignored.

    Returns:
        ``(G, P, P)`` bool, ``True`` on the diagonal.
    """
    size = adjacency.shape[-1]
    eye = torch.eye(size, dtype=torch.bool, device=adjacency.device)
    reach = (adjacency | adjacency.transpose(1, 2) | eye).float()
    path_length = 1
    while path_length < size - 1:
        reach = (reach @ reach > 0).float()
        path_length *= 2
    return reach > 0
