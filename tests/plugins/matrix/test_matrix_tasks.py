"""Matrix task generators: shapes, seeding, correct targets, storage round trips."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from irem_core.errors import IremError
from irem_plugins.matrix.tasks import AdditionTask, CompletionTask, InverseTask, MatrixConfig

TASKS = {"addition": AdditionTask, "completion": CompletionTask, "inverse": InverseTask}


def sample(name: str, size: int, split: str, count: int, seed: int = 0):
    task = TASKS[name](MatrixConfig(size=size))
    return task, task.sample(split, count, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("split", ["train", "same", "harder"])
def test_shapes_and_seed_reproducibility(name: str, split: str) -> None:
    task, problems = sample(name, 5, split, 7, seed=3)
    _, again = sample(name, 5, split, 7, seed=3)
    _, other = sample(name, 5, split, 7, seed=4)
    assert problems.inputs.shape == (7, task.input_features)
    assert problems.target.shape == (7, 25)
    assert problems.row_problem.tolist() == list(range(7))
    assert torch.equal(problems.inputs, again.inputs) and torch.equal(problems.target, again.target)
    assert not torch.equal(problems.target, other.target)


@given(size=st.integers(2, 12), seed=st.integers(0, 1000))
def test_addition_target_is_the_sum(size: int, seed: int) -> None:
    _, problems = sample("addition", size, "harder", 4, seed)
    a, b = problems.inputs.view(4, 2, size * size).unbind(1)
    torch.testing.assert_close(problems.target, a + b)
    assert problems.inputs.abs().max() <= 2.5


def test_addition_ranges_per_split() -> None:
    _, same = sample("addition", 20, "same", 256)
    _, harder = sample("addition", 20, "harder", 256)
    assert same.inputs.abs().max() <= 1.0 < harder.inputs.abs().max() <= 2.5
    assert abs(float((same.target**2).mean()) - 2 / 3) < 0.02  # paper: zero predictor 0.667


@given(
    size=st.integers(2, 10), seed=st.integers(0, 1000), split=st.sampled_from(["same", "harder"])
)
def test_inverse_target_times_input_is_identity(size: int, seed: int, split: str) -> None:
    _, problems = sample("inverse", size, split, 3, seed)
    matrix = problems.inputs.view(3, size, size).double()
    inverse = problems.target.view(3, size, size).double()
    torch.testing.assert_close(
        matrix @ inverse, torch.eye(size, dtype=torch.float64).expand(3, -1, -1), atol=1e-3, rtol=0
    )
    torch.testing.assert_close(matrix, matrix.transpose(1, 2))


@given(size=st.integers(2, 10), seed=st.integers(0, 1000))
def test_completion_observed_entries_equal_the_target(size: int, seed: int) -> None:
    _, problems = sample("completion", size, "same", 6, seed)
    observed = problems.inputs != 0
    assert torch.equal(problems.inputs[observed], problems.target[observed])
    assert 0.2 < observed.float().mean() < 0.8 or size * size * 6 < 40


def test_pack_unpack_and_tensor_files_round_trip() -> None:
    task, problems = sample("addition", 3, "same", 5)
    answer = torch.randn(5, 9)
    restored, restored_answer = task.unpack(task.pack(problems, answer))
    assert torch.equal(restored.inputs, problems.inputs) and torch.equal(restored_answer, answer)
    loaded = task.from_tensors(task.to_tensors(problems))
    assert torch.equal(loaded.target, problems.target)


def test_from_tensors_rejects_missing_and_misshapen_tensors() -> None:
    task, problems = sample("addition", 3, "same", 5)
    with pytest.raises(IremError, match="lacks tensor"):
        task.from_tensors({"x": problems.inputs})
    with pytest.raises(IremError, match=r"expected \(5, 9\)"):
        task.from_tensors({"x": problems.inputs, "y": torch.zeros(5, 16)})


def test_unknown_split_lists_valid_splits() -> None:
    with pytest.raises(IremError, match="valid splits: train, same, harder"):
        sample("addition", 3, "hard", 2)


def test_vector_energy_has_the_papers_parameter_count() -> None:
    from irem_plugins.matrix.energy import VectorEnergy, VectorEnergyConfig

    counts = {
        name: sum(
            parameter.numel()
            for parameter in VectorEnergy(VectorEnergyConfig(), task(MatrixConfig())).parameters()
        )
        for name, task in TASKS.items()
    }
    assert counts == {"addition": 1_140_737, "completion": 935_937, "inverse": 935_937}
