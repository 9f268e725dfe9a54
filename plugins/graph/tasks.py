"""The paper's graph tasks, generated as batched tensors from an explicit generator.

Every task draws a batch of ``G`` graphs at once as dense ``(G, P, P)`` matrices on the
generator's device (``P`` the largest size the split can draw; smaller graphs use the top-left
``n × n`` block), computes labels with batched matrix algorithms, and lists the edges of each
complete graph with self-loops (see :mod:`irem_core.reasoning.graphs`). One answer row is one
edge: answers have shape ``(E, 1)``.
"""

from __future__ import annotations

import math

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from irem_core.errors import IremError
from irem_core.reasoning.graphs import CompleteGraphs, GraphBatch, complete_graphs, to_padded
from irem_core.reasoning.protocols import SPLITS, Problems
from irem_plugins.graph.labels import pair_mask, same_component, shortest_path_lengths
from irem_plugins.graph.tensor_files import graphs_from_tensors, graphs_to_tensors


def _not_below_min(instance: GraphConfig, attribute: attrs.Attribute, value: int) -> None:
    if value < instance.min_train_nodes:
        raise ValueError(
            f"'{attribute.name}' ({value}) must be at least 'min_train_nodes' "
            f"({instance.min_train_nodes})"
        )


@attrs.define
class GraphConfig:
    """Options of every graph task: how many nodes each split's graphs have.

    Attributes:
        nodes: when set, every split draws graphs of exactly this many nodes (``--set
            task.nodes=30``; ``irem eval --sizes`` sets it per size); ``None`` keeps each
            split's own size below.
        min_train_nodes: smallest training graph (paper: 2).
        max_train_nodes: largest training graph (paper: 10); training ``n`` is uniform in
            ``min_train_nodes..max_train_nodes``.
        same_nodes: ``n`` of the ``same`` split (paper: 10).
        harder_nodes: ``n`` of the ``harder`` split (paper: 15).
    """

    nodes: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))
    min_train_nodes: int = attrs.field(default=2, validator=v.ge(1))
    max_train_nodes: int = attrs.field(default=10, validator=[v.ge(1), _not_below_min])
    same_nodes: int = attrs.field(default=10, validator=v.ge(1))
    harder_nodes: int = attrs.field(default=15, validator=v.ge(1))


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> Tensor:
    return torch.rand(shape, generator=generator, device=generator.device) * (high - low) + low


class GraphTask:
    """Base of the graph tasks: one problem is one graph, one answer row is one edge.

    ``Problems.inputs`` is a :class:`~irem_core.reasoning.graphs.GraphBatch`; ``target`` and
    answers are ``(E, 1)``; ``row_problem`` is the graph of each edge. Subclasses implement
    :meth:`draw`.

    Args:
        options: :class:`GraphConfig`.

    Attributes:
        storage_nodes: node bound of fixed-width storage (:meth:`pack`), so every training
            batch packs to the same width.
    """

    domain = "graph"
    answer_features = 1

    def __init__(self, options: GraphConfig) -> None:
        self.options = options
        self.storage_nodes = max(options.max_train_nodes, options.nodes or 0)

    def draw(
        self, nodes: Tensor, node_bound: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Edge inputs and targets as dense matrices.

        Args:
            nodes: ``n_g`` per graph, ``(G,)`` int64, at most ``node_bound``.
            node_bound: ``P``, the padded matrix size.
            generator: the only source of randomness.

        Returns:
            Inputs and targets, each ``(G, P, P)``; entry ``(g, i, j)`` is edge ``i → j`` of
            graph ``g`` (entries outside the ``n_g × n_g`` block are ignored).
        """
        raise NotImplementedError

    def split_nodes(self, split: str) -> tuple[int, int]:
        """Smallest and largest ``n`` of ``split``'s graphs."""
        if split not in SPLITS:
            raise IremError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        options = self.options
        if options.nodes is not None:
            return options.nodes, options.nodes
        if split == "train":
            return options.min_train_nodes, options.max_train_nodes
        size = options.same_nodes if split == "same" else options.harder_nodes
        return size, size

    def sample(self, split: str, num_problems: int, generator: torch.Generator) -> Problems:
        """``num_problems`` graphs of ``split`` (``train``: ``n`` uniform per graph)."""
        low, high = self.split_nodes(split)
        nodes = torch.randint(
            low, high + 1, (num_problems,), generator=generator, device=generator.device
        )
        inputs, target = self.draw(nodes, high, generator)
        layout = complete_graphs(nodes, high)
        return self._problems(
            layout, layout.graph_batch(layout.from_dense(inputs)), layout.from_dense(target)
        )

    @staticmethod
    def _problems(layout: CompleteGraphs, graphs: GraphBatch, target: Tensor) -> Problems:
        return Problems(
            inputs=graphs,
            target=target,
            row_problem=layout.edge_graph,
            num_problems=graphs.num_graphs,
        )

    def init_answer(self, problems: Problems, generator: torch.Generator) -> Tensor:
        """``y_0 ~ U(−1, 1)`` per edge, shape ``(E, 1)``."""
        return _uniform(tuple(problems.target.shape), -1.0, 1.0, generator)

    def pack(self, problems: Problems, answer: Tensor) -> dict[str, Tensor]:
        """Fixed-width per-graph rows for the replay buffer and chunked evaluation.

        The width is ``W = max(storage_nodes, node_bound)²`` (``max_train_nodes² = 100`` for
        every training batch with the defaults), edge values in the prefix layout.

        Returns:
            ``{"edge_attr", "target", "answer": (G, W), "nodes": (G,) int64}``.
        """
        graphs: GraphBatch = problems.inputs
        bound = max(self.storage_nodes, graphs.node_bound)
        return {
            "edge_attr": to_padded(graphs.edge_attr, graphs, bound),
            "target": to_padded(problems.target, graphs, bound),
            "answer": to_padded(answer, graphs, bound),
            "nodes": graphs.nodes,
        }

    def unpack(self, packed: dict[str, Tensor]) -> tuple[Problems, Tensor]:
        """Inverse of :meth:`pack`: the graphs and their answers ``(E, 1)``."""
        bound = math.isqrt(packed["edge_attr"].shape[1])
        layout = complete_graphs(packed["nodes"], bound)
        graphs = layout.graph_batch(layout.from_padded(packed["edge_attr"]))
        problems = self._problems(layout, graphs, layout.from_padded(packed["target"]))
        return problems, layout.from_padded(packed["answer"])

    def to_tensors(self, problems: Problems) -> dict[str, Tensor]:
        """``{"edge_index": (2, E) int64, "edge_attr": (E, 1), "y": (E, 1), "ptr": (G + 1,)}``."""
        return graphs_to_tensors(problems.inputs, problems.target)

    def from_tensors(self, tensors: dict[str, Tensor]) -> Problems:
        """Inverse of :meth:`to_tensors`; raises ``IremError`` on a malformed file."""
        layout, graphs, target = graphs_from_tensors(tensors)
        return self._problems(layout, graphs, target)


class EdgeCopyTask(GraphTask):
    """Copy the edge input: ``R_ij ~ U(−1, 1)``, target ``R_ij``."""

    def draw(
        self, nodes: Tensor, node_bound: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """See :meth:`GraphTask.draw`."""
        values = _uniform((nodes.shape[0], node_bound, node_bound), -1.0, 1.0, generator)
        return values, values


class ConnectedComponentsTask(GraphTask):
    """Same-component labels: input ``A_ij = 1[U_ij > 0.95]`` (directed).

    The target is 1 where ``i`` and ``j`` share a component of the undirected graph
    ``A ∨ Aᵀ`` (diagonal 1), else 0.
    """

    def draw(
        self, nodes: Tensor, node_bound: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """See :meth:`GraphTask.draw`."""
        noise = torch.rand(
            (nodes.shape[0], node_bound, node_bound), generator=generator, device=generator.device
        )
        adjacency = (noise > 0.95) & pair_mask(nodes, node_bound)
        return adjacency.float(), same_component(adjacency).float()

    def score(self, answer: Tensor, problems: Problems) -> dict[str, Tensor]:
        """Per-edge ``accuracy``: 1 where ``answer > 0.5`` agrees with the target, ``(E,)``."""
        agree = (answer > 0.5) == (problems.target > 0.5)
        return {"accuracy": agree.float().squeeze(-1)}


class ShortestPathTask(GraphTask):
    """All-pairs shortest paths: input ``W = U + Uᵀ``, ``U ~ U(0, 1)``, zero diagonal.

    The target is the shortest-path distance between ``i`` and ``j`` in the complete graph
    weighted by ``W``.
    """

    def draw(
        self, nodes: Tensor, node_bound: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """See :meth:`GraphTask.draw`."""
        noise = torch.rand(
            (nodes.shape[0], node_bound, node_bound), generator=generator, device=generator.device
        )
        weights = noise + noise.transpose(1, 2)
        weights.diagonal(dim1=1, dim2=2).zero_()
        masked = weights.masked_fill(~pair_mask(nodes, node_bound), torch.inf)
        return weights, shortest_path_lengths(masked)
