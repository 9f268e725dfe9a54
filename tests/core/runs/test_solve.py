"""irem_core.runs.solve: a saved run answers new problems in three lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import irem_core as irem
from irem_core.config.schema import TaskSpec
from irem_core.runs.evaluation import select_min_energy
from irem_core.runs.nested import OracleSolver


def test_a_saved_run_solves_new_problems_in_three_lines(
    tiny_config: irem.RunConfig, run_dir: Path
) -> None:
    irem.train(tiny_config, run_dir, progress=False)
    x = torch.rand(5, 18) * 2 - 1

    run = irem.load_run(run_dir)
    problems = run.task.from_tensors({"x": x, "y": torch.zeros(5, run.task.answer_features)})
    answers = irem.solve(run, problems, 6)

    assert answers.shape == (5, 9) and not answers.requires_grad
    y0 = run.task.init_answer(problems, irem.seeded_generator(0, "starts"))
    trajectory = run.solver.solve(problems, y0, 6, record=True)
    expected = select_min_energy(trajectory.answers, trajectory.energies, problems.row_problem)
    torch.testing.assert_close(answers, expected)
    assert irem.solve(run, problems, 6, batch_size=2).shape == (5, 9)


def test_solvers_without_energy_answer_with_their_final_iterate_in_row_order() -> None:
    task = irem.build_task(irem.structure({"name": "addition", "size": 2}, TaskSpec))
    problems = task.sample("same", 7, torch.Generator().manual_seed(0))
    for batch_size in (None, 3):
        answers = irem.solve(OracleSolver(), problems, 2, task=task, batch_size=batch_size)
        assert torch.equal(answers, problems.target)


def test_a_bare_solver_needs_its_task() -> None:
    with pytest.raises(TypeError, match="needs task="):
        irem.solve(OracleSolver(), None, 2)
