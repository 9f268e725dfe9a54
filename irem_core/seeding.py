"""Every random stream of irem is derived from ``(seed, purpose)`` by one hashed function.

A run's seed alone would make streams collide: training shard 0, ``irem data --seed 0`` and
``irem eval --seed 0`` would all draw the same problems. Hashing the purpose in keeps them
apart, so default training problems are never test problems. Purposes in use:

- ``train-shard:<s>``: problems, starts and replay picks of training shard ``s``;
- ``validation`` and ``validation-starts``: the trainer's periodic evaluation (a set that
  is neither ``same`` nor ``harder`` test data);
- ``problems:<split>`` and ``starts:<split>``: ``irem data``, ``irem eval`` and the
  reproduction's problem sets and starting answers;
- ``nested``: the operands and starts of ``irem nested``.
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for the stream ``purpose`` of ``seed`` (SHA-256 of both)."""
    digest = hashlib.sha256(f"irem:{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def generator(seed: int, purpose: str, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded with :func:`derive_seed` ``(seed, purpose)``."""
    return torch.Generator(device).manual_seed(derive_seed(seed, purpose))
