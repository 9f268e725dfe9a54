"""The ``sudoku`` task: valid boards from any seed, givens in the split's range, and a score
that accepts any valid board keeping the givens."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from irem_core.cli.app import main
from irem_core.config.compose import build_run_config
from irem_core.errors import IremError
from irem_core.runs.build import build_solver, build_task
from irem_core.testing import component_cases
from irem_plugins.sudoku.boards import givens_mask, line_orders, solved_boards, valid_boards
from irem_plugins.sudoku.energy import BoardEnergy, BoardEnergyConfig
from irem_plugins.sudoku.task import SudokuConfig, SudokuTask
from tests.cli_args import resume_args


@given(seed=st.integers(0, 2**32), count=st.integers(1, 64))
def test_drawn_boards_are_solved_sudokus_fixed_by_the_seed(seed: int, count: int) -> None:
    boards = solved_boards(count, torch.Generator().manual_seed(seed))
    assert boards.shape == (count, 81) and bool(valid_boards(boards).all())
    assert torch.equal(boards, solved_boards(count, torch.Generator().manual_seed(seed)))


@given(seed=st.integers(0, 2**32), cell=st.integers(0, 80), shift=st.integers(1, 8))
def test_changing_one_cell_breaks_a_board(seed: int, cell: int, shift: int) -> None:
    boards = solved_boards(1, torch.Generator().manual_seed(seed))
    boards[0, cell] = (boards[0, cell] + shift) % 9
    assert not bool(valid_boards(boards).any())


@given(low=st.integers(0, 81), width=st.integers(0, 81), seed=st.integers(0, 2**32))
def test_puzzles_show_a_number_of_cells_in_the_range(low: int, width: int, seed: int) -> None:
    high = min(81, low + width)
    shown = givens_mask(50, low, high, torch.Generator().manual_seed(seed)).sum(dim=1)
    assert bool(((shown >= low) & (shown <= high)).all())


def test_splits_use_their_ranges_and_inputs_are_the_givens_of_the_target() -> None:
    task = SudokuTask(SudokuConfig())
    for split, (low, high) in (("same", (31, 42)), ("harder", (17, 30))):
        problems = task.sample(split, 200, torch.Generator().manual_seed(0))
        givens = problems.inputs.reshape(200, 81, 9)
        shown = givens.sum(dim=-1)
        assert bool(((shown.sum(dim=1) >= low) & (shown.sum(dim=1) <= high)).all())
        target = problems.target.reshape(200, 81, 9)
        assert bool((target.sum(dim=-1) == -7).all())  # one +1, eight −1 per cell
        assert bool(((givens == 1) <= (target == 1)).all())  # every given is the target's


def test_score_accepts_any_valid_board_that_keeps_the_givens() -> None:
    task = SudokuTask(SudokuConfig(same_givens=[0, 0]))  # no givens: every solved board fits
    problems = task.sample("same", 4, torch.Generator().manual_seed(1))
    other = solved_boards(4, torch.Generator().manual_seed(2))
    answer = torch.nn.functional.one_hot(other, 9).float().flatten(1) * 2 - 1
    scores = task.score(answer, problems)
    assert scores["board"].tolist() == [1.0] * 4
    assert bool((scores["cells"] < 1).all())
    assert task.score(problems.target, problems)["cells"].tolist() == [1.0] * 4
    kept = SudokuTask(SudokuConfig(same_givens=[81, 81])).sample("same", 4, torch.Generator())
    assert task.score(answer, kept)["board"].sum() < 4  # another board breaks full givens


def test_the_board_energy_is_checked_on_sudoku_only_and_refuses_other_tasks() -> None:
    ids = {param.id for param in component_cases(plugin="sudoku")}
    assert {"task:sudoku", "energy_model:board@sudoku", "energy_model:mlp@sudoku"} <= ids
    assert not any(
        i.startswith("energy_model:board@") and i != "energy_model:board@sudoku" for i in ids
    )
    with pytest.raises(IremError, match="use it with task sudoku"):
        build_solver(
            build_run_config(
                task="addition", preset="quick", overrides=["solver.energy.name='board'"]
            ).solver,
            build_task(build_run_config(task="addition", preset="quick").task),
            0,
        )


@given(seed=st.integers(0, 2**32))
def test_the_board_energy_is_blind_to_sudoku_symmetries_of_the_grid(seed: int) -> None:
    task = SudokuTask(SudokuConfig())
    energy = BoardEnergy(BoardEnergyConfig(hidden=8, layers=2), task)
    problems = task.sample("same", 3, torch.Generator().manual_seed(seed))
    answer = task.init_answer(problems, torch.Generator().manual_seed(seed + 1))
    rows = line_orders(3, torch.Generator().manual_seed(seed + 2))  # bands and rows in them

    def moved(flat: torch.Tensor) -> torch.Tensor:
        grid = flat.reshape(3, 9, 9, 9)[torch.arange(3)[:, None], rows]
        return grid.transpose(1, 2).reshape(3, 729)  # and transposed

    with torch.no_grad():
        before = energy(energy.encode(problems.inputs), answer)
        after = energy(energy.encode(moved(problems.inputs)), moved(answer))
    assert torch.allclose(before, after, atol=1e-5)


def test_the_fast_preset_trains_and_resumes_exactly(tmp_path: Path) -> None:
    """``irem train --task sudoku --preset fast``, shrunk: 4 iterations straight equal 2 and
    a resume to 4, byte for byte."""
    sets = {"solver.energy.hidden": 8, "solver.energy.layers": 1, "train.batch_size": 4}
    sets |= {"train.replay_batch_size": 4, "train.eval_every": 0, "train.lr_warmup": 1}

    def train(run: Path, iterations: int) -> int:
        arguments = ["train", "--task", "sudoku", "--preset", "fast", "--out", str(run)]
        arguments += [arg for key, value in sets.items() for arg in ("--set", f"{key}={value}")]
        return main([*arguments, "--set", f"train.iterations={iterations}", "--no-progress"])

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert train(straight, 4) == 0 and train(resumed, 2) == 0
    assert main(resume_args(resumed, 4)) == 0
    weights = [(run / "model.safetensors").read_bytes() for run in (straight, resumed)]
    assert weights[0] == weights[1]
