"""Replay buffer invariants: capacity, ring overwrite, sampling stored states, device."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from irem_core.training.replay import ReplayBuffer


def states(start: int, count: int) -> dict[str, torch.Tensor]:
    ids = torch.arange(start, start + count)
    return {"id": ids, "answer": ids[:, None].float().repeat(1, 3)}


@given(capacity=st.integers(1, 20), adds=st.lists(st.integers(1, 12), min_size=1, max_size=8))
def test_ring_keeps_the_newest_states_up_to_capacity(capacity: int, adds: list[int]) -> None:
    buffer = ReplayBuffer(capacity)
    total = 0
    for count in adds:
        buffer.add(states(total, count))
        total += count
    assert len(buffer) == min(total, capacity)
    stored = set(buffer.state_tensors()["id"].tolist())
    assert stored == set(range(max(total - capacity, 0), total))
    sample = buffer.sample(50, torch.Generator().manual_seed(0))
    assert set(sample["id"].tolist()) <= stored
    torch.testing.assert_close(sample["answer"][:, 0], sample["id"].float())


def test_storage_is_preallocated_and_stays_on_its_device() -> None:
    buffer = ReplayBuffer(8)
    buffer.add(states(0, 3))
    storage = buffer.storage["answer"]
    buffer.add(states(3, 10))
    assert buffer.storage["answer"] is storage
    assert storage.shape == (8, 3)
    assert storage.device == torch.device("cpu")
    assert buffer.sample(4, torch.Generator().manual_seed(1))["answer"].device == storage.device


def test_state_round_trip_restores_contents_and_cursor() -> None:
    buffer = ReplayBuffer(5)
    buffer.add(states(0, 7))
    restored = ReplayBuffer(5)
    restored.load(buffer.state_tensors(), buffer.cursor)
    restored.add(states(7, 1))
    buffer.add(states(7, 1))
    assert torch.equal(restored.state_tensors()["id"], buffer.state_tensors()["id"])


def test_sampling_an_empty_buffer_is_an_error() -> None:
    try:
        ReplayBuffer(3).sample(1, torch.Generator())
    except ValueError as error:
        assert "empty" in str(error)
    else:
        raise AssertionError("sampling an empty buffer must fail")
