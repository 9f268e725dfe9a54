"""The ``ired`` solver plugin: its landscapes, its training step through the core's loop
(resumed exactly), its annealed solve, and a clear refusal of unconditioned energies."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from irem_core.cli.app import main
from irem_core.config.compose import build_run_config
from irem_core.runs.build import build_solver, build_task
from irem_plugins.ired.schedule import allot_steps, cosine_landscapes
from tests.cli_args import resume_args, train_args
from tests.conftest import TINY_GRAPH_OVERRIDES, TINY_OVERRIDES

IRED = ["--solver", "ired"]
NO_REPLAY = [*TINY_OVERRIDES, "train.replay_batch_size=0"]


@given(count=st.integers(1, 50))
def test_landscapes_go_from_the_data_to_noise(count: int) -> None:
    landscapes = cosine_landscapes(count)
    assert landscapes.count == count
    assert torch.allclose(landscapes.signal**2 + landscapes.noise**2, torch.ones(count))
    assert bool((landscapes.signal[1:] < landscapes.signal[:-1]).all())
    assert bool((landscapes.step > 0).all())


@given(steps=st.integers(1, 200), count=st.integers(1, 20))
def test_the_budget_is_shared_with_the_remainder_on_the_sharpest(steps: int, count: int) -> None:
    allotted = allot_steps(steps, count)
    assert len(allotted) == count and sum(allotted) == steps
    assert allotted == sorted(allotted)  # smoothest first: never more than a sharper one
    assert max(allotted) - min(allotted) <= 1


@pytest.mark.parametrize("descent", [[], ["solver.descent_weight=1"]], ids=["release", "descent"])
def test_training_resumes_exactly(tmp_path: Path, descent: list[str]) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main([*train_args(straight, NO_REPLAY + descent, 4), *IRED]) == 0
    assert main([*train_args(resumed, NO_REPLAY + descent, 2), *IRED]) == 0
    assert main(resume_args(resumed, 4)) == 0
    weights = [(run / "model.safetensors").read_bytes() for run in (straight, resumed)]
    assert weights[0] == weights[1]


def test_the_solve_records_one_prediction_per_step_and_follows_its_seed() -> None:
    config = build_run_config(
        task="addition", solver="ired", preset="quick", overrides=TINY_OVERRIDES
    )
    task = build_task(config.task)
    solver = build_solver(config.solver, task, 0)
    problems = task.sample("same", 5, torch.Generator().manual_seed(1))
    y0 = task.init_answer(problems, torch.Generator().manual_seed(2))
    runs = [
        solver.solve(problems, y0, 13, record=True, generator=torch.Generator().manual_seed(3))
        for _ in range(2)
    ]
    assert runs[0].answers is not None and runs[0].answers.shape == (14, *y0.shape)
    assert torch.equal(runs[0].answers, runs[1].answers)
    assert torch.equal(runs[0].answer, runs[0].answers[-1])
    assert bool((runs[0].answers.abs() <= config.solver.options.clip).all())
    # 10 landscapes: one denoising step each, 3 descent steps (2 evaluations each)
    assert int(runs[0].extras["energy_evaluations"]) == 5 * (10 + 2 * 3)


def test_an_energy_without_landscapes_is_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = [*NO_REPLAY, "solver.energy.landscapes=0", "solver.energy.film=false"]
    assert main([*train_args(tmp_path / "run", overrides, 2), *IRED]) == 2
    assert "solver.energy.landscapes=K" in capsys.readouterr().err


def test_ired_trains_a_graph_energy_and_resumes_exactly(tmp_path: Path) -> None:
    overrides = [*TINY_GRAPH_OVERRIDES, "train.replay_batch_size=0", "train.eval_every=0"]

    def graph_args(run: Path, iterations: int) -> list[str]:
        sets = [arg for item in overrides for arg in ("--set", item)]
        return [
            *["train", "--task", "shortest_path", "--solver", "ired", "--out", str(run)],
            *[*sets, "--set", f"train.iterations={iterations}", "--no-progress"],
        ]

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(graph_args(straight, 4)) == 0
    assert main(graph_args(resumed, 2)) == 0
    assert main(resume_args(resumed, 4)) == 0
    weights = [(run / "model.safetensors").read_bytes() for run in (straight, resumed)]
    assert weights[0] == weights[1]
    assert main(["eval", str(straight), "-n", "4", "--steps", "12"]) == 0


def test_ired_trains_and_solves_with_an_energy_without_its_own_gradient(tmp_path: Path) -> None:
    """Sudoku's ``board`` energy has no explicit gradient: every gradient IRED takes goes
    through autograd, on answers that must become leaves first."""
    sets = {
        "solver.energy.hidden": 8,
        "solver.energy.layers": 1,
        "train.batch_size": 4,
        "train.replay_batch_size": 0,
        "train.iterations": 2,
        "train.eval_every": 0,
    }
    run = tmp_path / "sudoku"
    arguments = ["train", "--task", "sudoku", "--preset", "quick", *IRED, "--out", str(run)]
    arguments += [arg for key, value in sets.items() for arg in ("--set", f"{key}={value}")]
    assert main([*arguments, "--no-progress"]) == 0
    assert main(["eval", str(run), "-n", "4", "--steps", "12"]) == 0
