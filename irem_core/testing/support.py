"""What every contract check shares: failing with the component's name, devices, generators."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from irem_core.errors import IremError
from irem_core.reasoning.protocols import (
    MemoryEnergy,
)

Device = torch.device | str


def require(condition: bool, label: str, rule: str) -> None:
    if not condition:
        raise AssertionError(f"{label}: {rule}")


def as_device(device: Device) -> torch.device:
    """``device`` with its index (``cuda`` → ``cuda:0``), as tensors report it."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def seeded(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device).manual_seed(seed)


def require_error(call: Callable[[], object], label: str, rule: str) -> None:
    """``call()`` must raise an :class:`~irem_core.errors.IremError` (a message for the user)."""
    try:
        call()
    except Exception as error:
        require(
            isinstance(error, IremError), label, f"{rule}; raised {type(error).__name__}: {error}"
        )
        return
    raise AssertionError(f"{label}: {rule}; nothing was raised")


def equal(left: dict[str, Tensor], right: dict[str, Tensor]) -> bool:
    return left.keys() == right.keys() and all(torch.equal(left[key], right[key]) for key in left)


def with_memory(model: nn.Module, answer: Tensor) -> Tensor:
    memory = model.memory_features if isinstance(model, MemoryEnergy) else 0
    return (
        torch.cat([answer, answer.new_zeros(answer.shape[0], memory)], dim=1) if memory else answer
    )
