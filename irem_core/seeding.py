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

from irem_core.errors import ConfigError

SEED_LIMIT = 2**64
"""Seeds are integers ``0 <= seed < SEED_LIMIT``."""

TORCH_SEED_BITS = 32
"""Bits of a seed that torch's CPU generator keeps (``manual_seed(k + 2**32)`` equals
``manual_seed(k)``)."""


def check_seed(seed: int) -> int:
    """``seed``, or a :class:`ConfigError` when it is outside ``0 .. 2**64 − 1``."""
    if not 0 <= seed < SEED_LIMIT:
        raise ConfigError(
            f"seed {seed} is out of range: a seed is an integer from 0 to "
            "2**64 - 1 (18446744073709551615)"
        )
    return seed


def init_seed(seed: int) -> int:
    """The seed of torch's global generator when a model is initialised for run seed ``seed``.

    ``seed`` itself below ``2**32`` (so the initialisation of every such run is unchanged),
    else :func:`derive_seed` ``(seed, "init")``: torch keeps only 32 bits of a seed, and the
    hash makes every one of the 64 count (``k`` and ``k + 2**32`` give different models).
    """
    return seed if check_seed(seed) < 2**TORCH_SEED_BITS else derive_seed(seed, "init")


def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for the stream ``purpose`` of ``seed`` (SHA-256 of both); a seed
    outside ``0 .. 2**64 − 1`` is a :class:`ConfigError`."""
    check_seed(seed)
    digest = hashlib.sha256(f"irem:{seed}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def generator(seed: int, purpose: str, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded with :func:`derive_seed` ``(seed, purpose)``."""
    return torch.Generator(device).manual_seed(derive_seed(seed, purpose))
