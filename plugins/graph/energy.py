"""Options of the graph energy ``gine`` and its factory, which imports torch_geometric lazily.

Loading the plugin (every ``irem`` command does) must stay cheap, so the model module
:mod:`irem_plugins.graph.gine` is imported only when a ``gine`` energy is built.
"""

from __future__ import annotations

import attrs
from attrs import validators as v
from torch import nn

from irem_core.reasoning.protocols import Task


def _even(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if value % 2:
        raise ValueError(
            f"'{attribute.name}' must be even (half embeds the input, half the answer), got {value}"
        )


@attrs.define
class GineEnergyConfig:
    """Options of ``gine``.

    Attributes:
        hidden: ``h``, width of the edge embedding and of every node layer (paper: 128).
        layers: number of GINE convolutions (paper: 3).
        aggregation: how a node combines its incoming messages: ``sum`` (the paper's
            GINEConv), ``mean`` (divides by the in-degree, so message sums do not grow with
            the graph's size; see docs/graph.md) or ``max``.
        self_pair_input: a second edge input, 1 on the self-pairs ``(i, i)``: without it
            the energy cannot single out the diagonal, which connected components labels 1
            (docs/graph.md). The paper's encoding has none.
        activation: the non-linearity of the messages and the readout: ``relu`` (the
            paper's) or ``silu``. With ReLU the energy is piecewise linear, so its gradient
            in the answer is piecewise constant and the parameters that reach it only
            through the masks (the input embedding, every bias) are never trained by IREM's
            loss; SiLU is smooth, so they are (docs/graph.md).
        readout: how node features become one energy per graph: ``max`` (the paper's: a
            max pool over the nodes, then an MLP) or ``edges`` (a sum of one term per edge,
            whose gradient does not shrink with the graph's size; docs/graph.md).
        triangle: with ``readout = "edges"``, the width ``w`` of a term through third nodes
            (0: none): each edge's term also reads ``t_ij = max_k σ(U r_ik + V r_kj + W
            r_ij)`` over the nodes ``k`` of its graph, ``r`` the readout's embedding of each
            edge's input and answer, so the energy can weigh ``y_ij`` against every path
            ``i → k → j`` (docs/graph.md: node features alone lose this on big graphs).
            Costs ``O(n³ w)`` per graph, and autograd's gradient replaces the hand-written one.
        landscapes: ``K`` energy landscapes to condition on (the
            :class:`~irem_core.LandscapeEnergy` capability, for ``ired``; 0: none), a learned
            ``(K, C_1)`` table added to every edge's first-layer term.
    """

    hidden: int = attrs.field(default=128, validator=[v.ge(2), _even])
    layers: int = attrs.field(default=3, validator=v.ge(1))
    aggregation: str = attrs.field(default="sum", validator=v.in_(("sum", "mean", "max")))
    self_pair_input: bool = False
    activation: str = attrs.field(default="relu", validator=v.in_(("relu", "silu")))
    readout: str = attrs.field(default="max", validator=v.in_(("max", "edges")))
    triangle: int = attrs.field(default=0, validator=v.ge(0))
    landscapes: int = attrs.field(default=0, validator=v.ge(0))

    def __attrs_post_init__(self) -> None:
        if self.triangle and self.readout != "edges":
            raise ValueError(
                f"'triangle' ({self.triangle}) needs readout 'edges' (it adds to the edge "
                f"terms), got readout {self.readout!r}: set solver.energy.readout=edges or "
                "solver.energy.triangle=0"
            )


def build_gine_energy(options: GineEnergyConfig, task: Task) -> nn.Module:
    """Build :class:`irem_plugins.graph.gine.GineEnergy` (the registered ``gine`` factory)."""
    from irem_plugins.graph.gine import GineEnergy

    return GineEnergy(options, task)
