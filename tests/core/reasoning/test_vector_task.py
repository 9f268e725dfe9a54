"""``irem_core.VectorTask``: a subclass writes ``draw`` and gets a whole, contract-true task."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from irem_core import IremError, VectorInputTask, VectorTask
from irem_core.testing import check_task
from irem_plugins.matrix.tasks import AdditionTask, MatrixConfig


class NegateTask(VectorTask):
    """``x ~ U(0, 1)^L``, ``y = −x``: the smallest vector task there is."""

    def __init__(self, length: int = 3) -> None:
        self.input_features = length
        self.answer_features = length

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Inputs ``(count, L)`` and their negations ``(count, L)``."""
        inputs = torch.rand(
            (count, self.input_features), generator=generator, device=generator.device
        )
        return inputs, -inputs


def test_a_subclass_that_only_draws_meets_the_task_contract() -> None:
    task = NegateTask()
    check_task(task)
    assert task.domain == "vector" and isinstance(task, VectorInputTask)


def test_problems_are_one_row_each_and_start_in_the_unit_box() -> None:
    task = NegateTask(4)
    generator = torch.Generator().manual_seed(0)
    problems = task.sample("harder", 6, generator)
    start = task.init_answer(problems, generator)
    assert problems.row_problem.tolist() == list(range(6)) and problems.num_problems == 6
    assert start.shape == (6, 4) and bool((start.abs() <= 1).all())
    assert set(task.to_tensors(problems)) == {"x", "y"}
    assert set(task.pack(problems, start)) == {"x", "y", "answer"}


def test_an_unknown_split_names_the_valid_ones() -> None:
    with pytest.raises(IremError, match="valid splits: train, same, harder"):
        NegateTask().sample("test", 2, torch.Generator())


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"x": torch.zeros(2, 3)}, "lacks tensor\\(s\\) y; a NegateTask file holds x and y"),
        (
            {"x": torch.zeros(2, 3), "y": torch.zeros(2, 3), "mask": torch.zeros(2)},
            "holds tensor\\(s\\) mask that a NegateTask file does not have",
        ),
        (
            {"x": torch.zeros(2, 3), "y": torch.zeros(2, 4)},
            "'y' has shape \\(2, 4\\).*expected \\(2, 3\\) floating point \\(set the task's options",
        ),
        (
            {"x": torch.zeros(2, 3, dtype=torch.long), "y": torch.zeros(2, 3)},
            "'x' has shape \\(2, 3\\) and dtype torch.int64",
        ),
    ],
)
def test_malformed_files_are_refused_saying_what_is_wrong(
    tensors: dict[str, Tensor], message: str
) -> None:
    with pytest.raises(IremError, match=message):
        NegateTask().from_tensors(tensors)


def test_a_subclass_names_its_size_option_in_the_width_error() -> None:
    task = AdditionTask(MatrixConfig(size=3))
    with pytest.raises(IremError, match=r"for 3x3 matrices \(set task\.size to match\)"):
        task.from_tensors({"x": torch.zeros(2, 18), "y": torch.zeros(2, 4)})


def test_files_are_read_as_float32() -> None:
    problems = NegateTask().from_tensors(
        {"x": torch.zeros(2, 3, dtype=torch.float64), "y": torch.zeros(2, 3, dtype=torch.float64)}
    )
    assert problems.inputs.dtype == problems.target.dtype == torch.float32
