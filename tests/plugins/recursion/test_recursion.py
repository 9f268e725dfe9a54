"""Nested reasoning: fold and repeat compose a solver; with an exact oracle they are exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from irem_core.cli.app import main
from irem_core.runs.nested import OracleSolver
from irem_plugins.matrix.tasks import AdditionTask, InverseTask, MatrixConfig
from irem_plugins.recursion.strategies import Fold, RecursionOptions, Repeat


@pytest.mark.parametrize("depth", [1, 4, 9])
def test_fold_with_an_exact_addition_oracle_gives_the_exact_sum(depth: int) -> None:
    task = AdditionTask(MatrixConfig(size=4))
    generator = torch.Generator().manual_seed(depth)
    operands = task.sample_operands("same", 5, depth + 1, generator)
    results = Fold(RecursionOptions()).solve(OracleSolver(), task, operands, depth, 3, generator)
    assert len(results) == depth
    for count, result in enumerate(results, start=2):
        torch.testing.assert_close(result, torch.stack(operands[:count]).sum(0))


def test_repeat_with_an_exact_inverse_oracle_alternates() -> None:
    task = InverseTask(MatrixConfig(size=3))
    generator = torch.Generator().manual_seed(0)
    (matrix,) = task.sample_operands("same", 4, 1, generator)
    results = Repeat(RecursionOptions()).solve(OracleSolver(), task, [matrix], 4, 2, generator)
    inverse = torch.linalg.inv(matrix.view(4, 3, 3).double()).flatten(1).float()
    torch.testing.assert_close(results[0], inverse, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(results[1], matrix, atol=1e-3, rtol=1e-3)


def test_tasks_without_an_operation_refuse_nested_reasoning() -> None:
    from irem_core.errors import IremError
    from irem_plugins.matrix.tasks import CompletionTask

    with pytest.raises(IremError, match="does not support nested reasoning"):
        CompletionTask(MatrixConfig(size=3)).sample_operands("same", 2, 2, torch.Generator())


def test_nested_cli_reports_one_error_per_depth(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sets = [
        arg for override in tiny_overrides + ["train.iterations=2"] for arg in ("--set", override)
    ]
    assert main(["train", "--task", "addition", "--out", str(run_dir), "--no-progress", *sets]) == 0
    capsys.readouterr()
    assert main(["nested", str(run_dir), "--depth", "3", "-n", "6", "--steps", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["strategy"] == "fold" and len(report["mse"]) == 3
    assert all(error > 0 for error in report["mse"])
    assert main(["nested", str(run_dir), "--strategy", "spiral"]) == 2
