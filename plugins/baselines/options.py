"""Options of the baseline solvers: attrs classes with defaults that serve every task.

A ``hidden`` of ``None`` means the paper's width for the task's domain (vector tasks: 512
for the MLPs, 196 for the LSTM; graph tasks: 128), so every matrix and graph preset works
without solver-specific entries.
"""

from __future__ import annotations

from typing import Any

import attrs
from attrs import validators as v

AGGREGATIONS: tuple[str, ...] = ("sum", "mean", "max")
"""How a graph baseline's GINE convolutions combine incoming messages (the paper: ``sum``)."""


def _aggregation() -> Any:
    """The ``aggregation`` field every baseline has."""
    return attrs.field(default="sum", validator=v.in_(AGGREGATIONS))


def _self_pair_input() -> Any:
    """The ``self_pair_input`` field every baseline has."""
    return attrs.field(default=False, validator=v.instance_of(bool))


def _open_unit_interval(instance: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not 0.0 < value < 1.0:
        raise ValueError(f"'{attribute.name}' must lie strictly between 0 and 1, got {value}")


@attrs.define
class FeedforwardConfig:
    """Options of ``feedforward``.

    Attributes:
        hidden: width of every hidden layer (``None``: 512 vector, 128 graph).
        layers: hidden layers of the vector MLP, or GINE convolutions of the graph network.
        aggregation: graph tasks: how message passing combines a node's incoming messages,
            ``sum`` (the paper's), ``mean`` or ``max`` (docs/graph.md); vector tasks have none.
        self_pair_input: graph tasks: a second edge input, 1 on the self-pairs ``(i, i)``
            (docs/graph.md); vector tasks have none.
    """

    hidden: int | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    layers: int = attrs.field(default=3, validator=v.ge(1))
    aggregation: str = _aggregation()
    self_pair_input: bool = _self_pair_input()


@attrs.define
class RecurrentConfig:
    """Options of ``recurrent``.

    Attributes:
        hidden: LSTM width (``None``: 196 vector, 128 graph).
        aggregation: graph tasks: how message passing combines a node's incoming messages,
            ``sum`` (the paper's), ``mean`` or ``max`` (docs/graph.md); vector tasks have none.
        self_pair_input: graph tasks: a second edge input, 1 on the self-pairs ``(i, i)``
            (docs/graph.md); vector tasks have none.
    """

    hidden: int | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    aggregation: str = _aggregation()
    self_pair_input: bool = _self_pair_input()


@attrs.define
class IterativeConfig:
    """Options of ``iterative``.

    Attributes:
        hidden: width of the update network ``f`` (``None``: 512 vector, 128 graph).
        layers: hidden layers of the vector ``f``, or GINE convolutions of the graph ``f``.
        full_backprop: differentiate through every step in training instead of only the
            last one. Off by default: the baseline is IREM's training loop with the energy
            gradient replaced by a free network, truncated like IREM's (as in the authors' release).
        aggregation: graph tasks: how message passing combines a node's incoming messages,
            ``sum`` (the paper's), ``mean`` or ``max`` (docs/graph.md); vector tasks have none.
        self_pair_input: graph tasks: a second edge input, 1 on the self-pairs ``(i, i)``
            (docs/graph.md); vector tasks have none.
        triangle: graph tasks: width ``w`` of a term through third nodes that the decoder
            reads beside ``[h_i, h_j, e_ij]`` (0: none): ``t_ij = max_k ReLU(U e_ik + V e_kj
            + W e_ij)``, the same term as the ``gine`` energy's option (docs/graph.md);
            vector tasks refuse it.
    """

    hidden: int | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    layers: int = attrs.field(default=3, validator=v.ge(1))
    full_backprop: bool = False
    aggregation: str = _aggregation()
    self_pair_input: bool = _self_pair_input()
    triangle: int = attrs.field(default=0, validator=v.ge(0))


@attrs.define
class PonderConfig:
    """Options of ``ponder``.

    Attributes:
        hidden: width of the recurrent step network (``None``: 196 vector, 128 graph).
        kl_weight: weight of ``KL(halting ‖ geometric prior)`` in the loss (paper: 0.01).
        prior_halting: ``λ_p`` of the geometric prior (``None``: ``1/T``, ``T`` the training
            step budget, as in the paper).
        halt_threshold: at test time each problem answers at the first step where its
            cumulative halting probability reaches this value (0.5: the median step).
        aggregation: graph tasks: how message passing combines a node's incoming messages,
            ``sum`` (the paper's), ``mean`` or ``max`` (docs/graph.md); vector tasks have none.
        self_pair_input: graph tasks: a second edge input, 1 on the self-pairs ``(i, i)``
            (docs/graph.md); vector tasks have none.
    """

    hidden: int | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    kl_weight: float = attrs.field(default=0.01, validator=v.ge(0))
    prior_halting: float | None = attrs.field(default=None, validator=_open_unit_interval)
    halt_threshold: float = attrs.field(default=0.5, validator=_open_unit_interval)
    aggregation: str = _aggregation()
    self_pair_input: bool = _self_pair_input()


@attrs.define
class ProgrammaticConfig:
    """Options of ``programmatic``.

    Attributes:
        hidden: width of the scratch state and of the step module (``None``: 512 vector,
            128 graph).
        aggregation: graph tasks: how message passing combines a node's incoming messages,
            ``sum`` (the paper's), ``mean`` or ``max`` (docs/graph.md); vector tasks have none.
        self_pair_input: graph tasks: a second edge input, 1 on the self-pairs ``(i, i)``
            (docs/graph.md); vector tasks have none.
    """

    hidden: int | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    aggregation: str = _aggregation()
    self_pair_input: bool = _self_pair_input()
