"""The paper's vector energy: an MLP on ``[y, x]`` with swish activations."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irem_core.errors import IremError
from irem_core.reasoning.layers import init_as_concatenation
from irem_core.reasoning.protocols import Task, VectorInputTask


@attrs.define
class VectorEnergyConfig:
    """Options of ``mlp``.

    Attributes:
        hidden: width of every hidden layer (paper: 512).
        layers: number of hidden layers (paper: 3).
        memory: scratchpad dimensions appended to the answer: optimised with it, starting
            at zero for every solve, never part of the loss or the returned answer.
        landscapes: ``K``, energy landscapes the energy can be conditioned on (the
            :class:`~irem_core.LandscapeEnergy` capability, for annealing solvers such as
            ``ired``): a learned ``(K, hidden)`` table whose row ``k`` is added to the first
            layer's pre-activation. 0 (IREM): unconditioned, no table.
        film: with landscapes, the landscape also scales and shifts every hidden layer
            after the first (``(1 + γ_k) ⊙ W h + β_k``, IRED's release), not only the first.
    """

    hidden: int = attrs.field(default=512, validator=attrs.validators.gt(0))
    layers: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    memory: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    landscapes: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    film: bool = False


class VectorEnergy(nn.Module):
    """``E(x, y) = w · swish(... swish(W₁ [y, x] + b₁) ...) + b``, one scalar per problem.

    The first layer is split into an answer part and an input part, ``W₁ [y, x] =
    W_y y + W_x x``; :meth:`encode` computes ``W_x x`` once per solve rather than at every
    step. Both parts start as slices of the concatenated layer (PyTorch's default bounds for
    the fan-in of ``[y, x]``, as in the release), and the parameter count equals the
    concatenated form (1,140,737 for 20×20 addition).

    Args:
        options: :class:`VectorEnergyConfig`.
        task: a ``vector`` task, a :class:`~irem_core.reasoning.protocols.VectorInputTask`
            (``input_features``, ``D_x``; ``answer_features``, ``F``).

    Shapes:
        - encode: ``x (B, D_x) -> context (B, hidden)``
        - select: ``context (B, hidden), problems (B',) -> context (B', hidden)``
        - condition: ``context (B, hidden), landscapes (B,) -> context (B, hidden)``
        - forward: ``context (B, hidden), y (B, F + memory) -> energies (B,)``
        - energy_and_gradient: ``context, y (B, F + memory) -> energies (B,), ∇_y E like y``
    """

    def __init__(self, options: VectorEnergyConfig, task: Task) -> None:
        super().__init__()
        if not isinstance(task, VectorInputTask):
            raise IremError(
                f"energy model 'mlp' needs a vector task with input_features; "
                f"{type(task).__name__} has none"
            )
        self.memory_features = options.memory
        self.answer_layer = nn.Linear(task.answer_features + options.memory, options.hidden)
        self.input_layer = nn.Linear(task.input_features, options.hidden, bias=False)
        self.hidden_layers = nn.ModuleList(
            nn.Linear(options.hidden, options.hidden) for _ in range(options.layers - 1)
        )
        self.output_layer = nn.Linear(options.hidden, 1)
        init_as_concatenation([self.answer_layer, self.input_layer])
        self.landscapes = options.landscapes
        if options.film and not options.landscapes:
            raise IremError(
                "energy model 'mlp': film = true conditions its layers on landscapes, but "
                "landscapes = 0; set landscapes = K (e.g. --set solver.energy.landscapes=10) "
                "or film = false"
            )
        if options.landscapes:
            self.landscape_table = nn.Parameter(torch.zeros(options.landscapes, options.hidden))
        self.film_table = (
            nn.Parameter(torch.zeros(options.landscapes, 2, options.layers - 1, options.hidden))
            if options.film
            else None
        )

    def encode(self, inputs: Tensor) -> Tensor:
        """``W_x x``: the answer-independent part of the first layer."""
        return self.input_layer(inputs)

    def condition(self, context: Tensor, landscapes: Tensor) -> Tensor:
        """The context on landscape ``landscapes[b]`` for problem ``b`` (``(B,)``
        integers below ``K``): the table's row added to ``W_x x``."""
        if not self.landscapes:
            raise IremError(
                "energy model 'mlp' has no landscapes; set its option landscapes = K "
                "(e.g. --set solver.energy.landscapes=10)"
            )
        shifted = context + self.landscape_table[landscapes]
        if self.film_table is None:
            return shifted
        return torch.cat([shifted, self.film_table[landscapes].flatten(1)], dim=-1)

    def _film(self, context: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The first layer's context ``(B, hidden)`` and, for a film-conditioned context,
        the gains and shifts of the later layers, each ``(B, layers − 1, hidden)``."""
        hidden = self.answer_layer.out_features
        if context.shape[-1] == hidden:
            return context, None, None
        film = context[:, hidden:].unflatten(-1, (2, -1, hidden))
        return context[:, :hidden], film[:, 0], film[:, 1]

    def select(self, context: Tensor, problems: Tensor) -> Tensor:
        """The context of ``problems`` only (indices ``(B',)``), for per-problem halting."""
        return context[problems]

    def forward(self, context: Tensor, answer: Tensor) -> Tensor:
        """Energies ``(B,)`` of answers ``(B, F + memory)`` given ``context = encode(x)``."""
        first, gains, shifts = self._film(context)
        hidden = F.silu(self.answer_layer(answer) + first)
        for index, layer in enumerate(self.hidden_layers):
            activation = layer(hidden)
            if gains is not None and shifts is not None:
                activation = activation * (1 + gains[:, index]) + shifts[:, index]
            hidden = F.silu(activation)
        return self.output_layer(hidden).squeeze(-1)

    def energy_and_gradient(self, context: Tensor, answer: Tensor) -> tuple[Tensor, Tensor] | None:
        """Energies ``(B,)`` and ``∇_y E``, ``(B, F + memory)``, backpropagated by hand (the
        :class:`~irem_core.reasoning.protocols.GradientEnergy` capability).

        With ``a_k`` the pre-activations and ``swish'(a) = s(a)(1 + a(1 − s(a)))``,
        ``s = sigmoid``: ``g_L = w ⊙ swish'(a_L)``, ``g_{k−1} = (g_k W_k) ⊙ swish'(a_{k−1})``
        and ``∇_y E = g_1 W_y``; without grad mode the ``⊙ swish'`` is torch's fused
        ``silu_backward`` (one pass, as autograd's first-order backward), with it the formula
        (as autograd's double backward). ``None`` (autograd) for a subclass overriding
        ``forward``.
        """
        if type(self).forward is not VectorEnergy.forward:
            return None
        first, gains, shifts = self._film(context)
        layers = [self.answer_layer, *self.hidden_layers]
        activations: list[Tensor] = [self.answer_layer(answer) + first]
        for index, layer in enumerate(self.hidden_layers):
            activation = layer(F.silu(activations[-1]))
            if gains is not None and shifts is not None:
                activation = activation * (1 + gains[:, index]) + shifts[:, index]
            activations.append(activation)
        hidden = F.silu(activations[-1])
        energies = self.output_layer(hidden).squeeze(-1)
        gradient = self.output_layer.weight.expand_as(hidden)
        differentiable = torch.is_grad_enabled()
        for index in range(len(layers) - 1, -1, -1):
            gradient = (
                _swish_backward(gradient, activations[index])
                if differentiable
                else torch.ops.aten.silu_backward(gradient, activations[index])
            )
            if index:
                if gains is not None:
                    gradient = gradient * (1 + gains[:, index - 1])
                gradient = gradient @ layers[index].weight
        return energies, gradient @ self.answer_layer.weight


def _swish_backward(gradient: Tensor, activation: Tensor) -> Tensor:
    """``gradient ⊙ swish'(activation)`` in differentiable operations (torch's fused
    ``silu_backward``, used when no graph is built, has no derivative)."""
    sigmoid = torch.sigmoid(activation)
    return gradient * (sigmoid * (1 + activation * (1 - sigmoid)))
