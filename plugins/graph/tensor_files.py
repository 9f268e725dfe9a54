"""Graph problem sets as named tensors (``irem data`` files), with strict validation."""

from __future__ import annotations

import torch
from torch import Tensor

from irem_core.errors import IremError
from irem_core.reasoning.graphs import CompleteGraphs, GraphBatch, complete_graphs

TENSOR_NAMES = ("edge_index", "edge_attr", "y", "ptr")
"""What a graph problem file holds: ``edge_index (2, E)`` int64, ``edge_attr (E, 1)``,
``y (E, 1)`` and ``ptr (G + 1,)`` int64."""


def graphs_to_tensors(graphs: GraphBatch, target: Tensor) -> dict[str, Tensor]:
    """``{"edge_index": (2, E), "edge_attr": (E, 1), "y": (E, 1), "ptr": (G + 1,)}``."""
    return {
        "edge_index": graphs.edge_index,
        "edge_attr": graphs.edge_attr,
        "y": target,
        "ptr": graphs.ptr,
    }


def _fail(problem: str) -> IremError:
    return IremError(
        f"graph problem file: {problem}; a graph file holds "
        f"{', '.join(TENSOR_NAMES)} for complete graphs with self-loops, edges "
        "row-major per graph (write it with 'irem data')"
    )


def _check_ptr(ptr: Tensor) -> Tensor:
    """Validated node counts ``(G,)`` from node offsets ``(G + 1,)``."""
    if ptr.dim() != 1 or ptr.shape[0] < 2 or ptr.dtype != torch.long:
        raise _fail(
            f"'ptr' has shape {tuple(ptr.shape)} and dtype {ptr.dtype}; expected "
            "(G + 1,) int64 with G >= 1"
        )
    nodes = ptr[1:] - ptr[:-1]
    if int(ptr[0]) != 0 or bool((nodes < 1).any()):
        raise _fail("'ptr' must start at 0 and increase strictly (every graph has a node)")
    return nodes


def graphs_from_tensors(tensors: dict[str, Tensor]) -> tuple[CompleteGraphs, GraphBatch, Tensor]:
    """Validate a graph problem file and rebuild its batch.

    Args:
        tensors: the file's tensors, named as in :data:`TENSOR_NAMES`.

    Returns:
        The edge enumeration, the graphs (``edge_attr`` as float32) and the targets
        ``(E, 1)`` float32.

    Raises:
        IremError: a tensor is missing or unexpected, misshapen, of the wrong dtype, or the
            edges are not the complete graphs ``ptr`` describes.
    """
    missing = [name for name in TENSOR_NAMES if name not in tensors]
    extra = sorted(set(tensors) - set(TENSOR_NAMES))
    if missing or extra:
        found = ", ".join(sorted(tensors)) or "none"
        raise _fail(f"expected tensors {', '.join(TENSOR_NAMES)}, found {found}")
    nodes = _check_ptr(tensors["ptr"])
    edges = int((nodes * nodes).sum())
    edge_index = tensors["edge_index"]
    if edge_index.shape != (2, edges) or edge_index.dtype != torch.long:
        raise _fail(
            f"'edge_index' has shape {tuple(edge_index.shape)} and dtype "
            f"{edge_index.dtype}; expected (2, {edges}) int64 for the node counts in 'ptr'"
        )
    for name in ("edge_attr", "y"):
        tensor = tensors[name]
        if tensor.shape != (edges, 1) or not tensor.is_floating_point():
            raise _fail(
                f"{name!r} has shape {tuple(tensor.shape)} and dtype {tensor.dtype}; "
                f"expected ({edges}, 1) floating point"
            )
    layout = complete_graphs(nodes, int(nodes.max()))
    if not torch.equal(edge_index, layout.edge_index):
        raise _fail("'edge_index' does not list every edge (i, j) of each graph row-major")
    return layout, layout.graph_batch(tensors["edge_attr"].float()), tensors["y"].float()
