"""An exponential moving average of a module's weights (``train.ema_decay``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


class WeightAverage:
    """``average ← d_t · average + (1 − d_t) · weights`` after every update.

    ``d_t = min(decay, (1 + t) / (10 + t))`` at update ``t`` (a short ramp, so the average
    forgets its random start quickly). Non-floating entries of the state dict are copied.

    Args:
        module: the trained module; the average starts as a copy of its state.
        decay: the long-run decay ``d`` in ``(0, 1)``.
    """

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = decay
        self.average: dict[str, Tensor] = {
            name: tensor.detach().clone() for name, tensor in module.state_dict().items()
        }

    def update(self, module: nn.Module, update: int) -> None:
        """Fold in ``module``'s weights after update number ``update`` (0-based)."""
        weight = 1.0 - min(self.decay, (1 + update) / (10 + update))
        current = module.state_dict()
        floating = [name for name, tensor in self.average.items() if tensor.is_floating_point()]
        with torch.no_grad():
            torch._foreach_lerp_(
                [self.average[name] for name in floating],
                [current[name].detach() for name in floating],
                weight,
            )
            for name, tensor in self.average.items():
                if not tensor.is_floating_point():
                    tensor.copy_(current[name])

    @contextmanager
    def applied(self, module: nn.Module) -> Iterator[None]:
        """Run the block with the averaged weights in ``module``, then restore its own."""
        raw = {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}
        module.load_state_dict(self.average)
        try:
            yield
        finally:
            module.load_state_dict(raw)
