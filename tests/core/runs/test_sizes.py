"""``irem_core.runs.sizes``: a run evaluated over problem sizes × step budgets."""

from __future__ import annotations

import pytest
import torch

from irem_core.cli.app import main
from irem_core.plugins.manager import resolve_plugins
from irem_core.runs.build import sized_task
from irem_core.runs.evaluation import evaluate
from irem_core.runs.load import TrainedRun, load_run
from irem_core.runs.sizes import evaluate_sizes
from irem_core.seeding import derive_seed


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """A two-iteration shortest-path run (a task with a size option) with a small energy."""
    directory = tmp_path_factory.mktemp("sizes") / "run"
    overrides = [
        "solver.energy.hidden=8",
        "train.batch_size=4",
        "train.replay_batch_size=2",
        "train.iterations=2",
        "train.eval_every=0",
        "eval.batch_size=3",
    ]
    sets = [item for value in overrides for item in ("--set", value)]
    command = ["train", "--task", "shortest_path", "--out", str(directory), "--no-progress"]
    assert main([*command, *sets]) == 0
    return load_run(directory)


def test_one_row_per_size_in_order_and_two_calls_agree(run: TrainedRun) -> None:
    first = evaluate_sizes(run, [5, 3], [4, 2], problems=4, seed=7)
    second = evaluate_sizes(run, [5, 3], [4, 2], problems=4, seed=7)
    assert [row.size for row in first.rows] == [5, 3]
    assert all(row.budgets == [2, 4] for row in first.rows)
    assert all(row.evaluation.num_problems == 4 for row in first.rows)
    assert first == second
    assert list(first.by_size()) == [5, 3]
    other_seed = evaluate_sizes(run, [5, 3], [4, 2], problems=4, seed=8)
    assert other_seed.by_size()[5].mse != first.by_size()[5].mse


def test_a_size_does_not_depend_on_the_other_sizes(run: TrainedRun) -> None:
    alone = evaluate_sizes(run, [5], [4], problems=4, seed=7).rows[0]
    among = evaluate_sizes(run, [3, 4, 5], [4], problems=4, seed=7).by_size()[5]
    assert alone.evaluation == among


def test_budgets_per_size(run: TrainedRun) -> None:
    curve = evaluate_sizes(run, [3, 5], {3: [2], 5: [2, 5]}, problems=2, seed=0)
    assert [row.budgets for row in curve.rows] == [[2], [2, 5]]
    assert len(curve.by_size()[5].curve) == 6  # iterates 0..5


def test_problems_and_starts_come_from_the_size_streams(run: TrainedRun) -> None:
    """The scheme ``irem reproduce``'s records were made with: problems drawn on the CPU from
    ``problems:size:<n>``, starts on the run's device from ``starts:size:<n>``."""
    task = sized_task(run.config.task, 4, plugins=resolve_plugins(None))
    problems = task.sample(
        "same", 3, torch.Generator().manual_seed(derive_seed(7, "problems:size:4"))
    )
    starts = torch.Generator(run.device).manual_seed(derive_seed(7, "starts:size:4"))
    expected = evaluate(run.solver, task, problems, [2], starts, run.config.eval.batch_size)
    curve = evaluate_sizes(run, [4], [2], problems=3, seed=7)
    assert curve.rows[0].evaluation == expected
