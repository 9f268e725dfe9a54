"""The hop counter of ``benchmarks.diagnostics.path_hops`` against scipy's shortest paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.sparse.csgraph import shortest_path

from benchmarks.diagnostics.path_hops import hops_of_shortest_paths


def hops_from_predecessors(weights: np.ndarray) -> np.ndarray:
    """Edge count of every shortest path, walking scipy's predecessor matrix back."""
    _, predecessors = shortest_path(weights, directed=True, return_predecessors=True)
    size = weights.shape[0]
    hops = np.zeros((size, size), dtype=np.int64)
    for source in range(size):
        for target in range(size):
            node = target
            while node != source:
                node = predecessors[source, node]
                hops[source, target] += 1
    return hops


@pytest.mark.parametrize("size", [2, 5, 12])
def test_hops_match_scipy_paths(size: int) -> None:
    generator = torch.Generator().manual_seed(size)
    uniform = torch.rand(3, size, size, generator=generator, dtype=torch.float64)
    weights = uniform + uniform.transpose(1, 2)
    weights.diagonal(dim1=1, dim2=2).zero_()
    hops = hops_of_shortest_paths(weights)
    for graph in range(3):
        expected = hops_from_predecessors(weights[graph].numpy())
        assert np.array_equal(hops[graph].numpy(), expected)


def test_a_shortcut_through_a_third_node_counts_two_hops() -> None:
    weights = torch.tensor([[[0.0, 2.0, 0.5], [2.0, 0.0, 0.5], [0.5, 0.5, 0.0]]])
    assert hops_of_shortest_paths(weights).tolist() == [[[0, 2, 1], [2, 0, 1], [1, 1, 0]]]
