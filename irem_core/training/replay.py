"""A preallocated, device-resident ring of past optimisation states."""

from __future__ import annotations

import torch
from torch import Tensor


class ReplayBuffer:
    """Ring buffer of ``capacity`` states; each state is a dict of fixed-shape tensors.

    Storage is allocated on the first :meth:`add` (shapes come from the task's ``pack``) on
    the device of the added tensors and never moves to the host. Adding past capacity
    overwrites the oldest states.

    Args:
        capacity: number of states kept.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"replay capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.storage: dict[str, Tensor] = {}
        self.size = 0
        self.cursor = 0

    def __len__(self) -> int:
        return self.size

    def add(self, states: dict[str, Tensor]) -> None:
        """Store ``states`` (each tensor of shape ``(n, ...)``), overwriting the oldest."""
        count = next(iter(states.values())).shape[0]
        if not self.storage:
            self.storage = {
                key: value.new_zeros((self.capacity, *value.shape[1:]))
                for key, value in states.items()
            }
        if count >= self.capacity:
            states = {key: value[-self.capacity :] for key, value in states.items()}
            count = self.capacity
        device = next(iter(self.storage.values())).device
        slots = (self.cursor + torch.arange(count, device=device)) % self.capacity
        for key, value in states.items():
            self.storage[key][slots] = value.detach()
        self.cursor = (self.cursor + count) % self.capacity
        self.size = min(self.size + count, self.capacity)

    def sample(self, count: int, generator: torch.Generator) -> dict[str, Tensor]:
        """``count`` stored states drawn uniformly with replacement using ``generator``."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = torch.randint(self.size, (count,), generator=generator, device=generator.device)
        index = index.to(next(iter(self.storage.values())).device)
        return {key: value[index] for key, value in self.storage.items()}

    def state_tensors(self) -> dict[str, Tensor]:
        """The stored states (only the filled part), for checkpoints."""
        return {key: value[: self.size] for key, value in self.storage.items()}

    def load(self, tensors: dict[str, Tensor], cursor: int) -> None:
        """Restore from :meth:`state_tensors` output and the saved cursor."""
        self.storage, self.size, self.cursor = {}, 0, 0
        if tensors:
            self.add(tensors)
            self.cursor = cursor % self.capacity
