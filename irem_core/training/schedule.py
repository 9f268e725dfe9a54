"""The training optimiser and its learning-rate schedule, both built from :class:`TrainConfig`."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from irem_core.config.schema import TrainConfig


def learning_rate(settings: TrainConfig, update: int) -> float:
    """The learning rate of update ``update`` (``0 .. iterations − 1``).

    Linear warm-up over ``lr_warmup`` updates to ``lr``, then ``lr_decay`` (none, linear or
    cosine) to ``lr · lr_final`` at the last update. The rate depends only on ``update``, so
    a resumed run continues the same schedule.
    """
    if update < settings.lr_warmup:
        return settings.lr * (update + 1) / settings.lr_warmup
    if settings.lr_decay == "none":
        return settings.lr
    span = max(settings.iterations - 1 - settings.lr_warmup, 1)
    progress = min((update - settings.lr_warmup) / span, 1.0)
    shape = (
        1.0 - progress
        if settings.lr_decay == "linear"
        else 0.5 * (1.0 + math.cos(math.pi * progress))
    )
    return settings.lr * (settings.lr_final + (1.0 - settings.lr_final) * shape)


def make_optimizer(
    parameters: Iterable[nn.Parameter], settings: TrainConfig
) -> torch.optim.Optimizer:
    """Adam with ``adam_betas`` (AdamW when ``weight_decay`` is positive) at ``lr``."""
    betas = (settings.adam_betas[0], settings.adam_betas[1])
    if settings.weight_decay:
        return torch.optim.AdamW(
            parameters, lr=settings.lr, betas=betas, weight_decay=settings.weight_decay
        )
    return torch.optim.Adam(parameters, lr=settings.lr, betas=betas)
