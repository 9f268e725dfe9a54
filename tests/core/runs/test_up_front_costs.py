"""Time bombs and sizes beyond memory are refused up front, with the estimate, before
anything is built, allocated or written: a lower bound of the time (``--allow-long``
overrides it) and of the memory a command needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from irem_core.cli.app import main
from irem_core.runs import cost
from tests.cli_args import train_args


@pytest.mark.parametrize(
    "overrides, phrase",
    [
        (["train.steps=1000000000"], "10,000 iterations of 1,000,000,000 steps"),
        (["solver.energy.layers=1000000"], "each through at least"),
    ],
)
def test_training_time_bombs_are_refused_with_the_estimate(
    run_dir: Path, overrides: list[str], phrase: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sets = [word for override in overrides for word in ("--set", override)]
    assert main(["train", "--task", "addition", "--out", str(run_dir), *sets]) == 2
    err = capsys.readouterr().err
    assert "this run would take at least" in err and phrase in err
    assert "or pass --allow-long if you mean it" in err
    assert not run_dir.exists()


def test_allow_long_lets_a_long_run_start(
    run_dir: Path, tiny_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cost, "LONG_SECONDS", 0.0)  # every run is "long"
    assert main(train_args(run_dir, tiny_overrides, 1)) == 2
    assert main(train_args(run_dir, tiny_overrides, 1, "--allow-long")) == 0


def test_nested_depth_and_nproc_bombs_are_refused(
    trained: Path, run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["nested", str(trained), "--depth", "1000000", "-n", "1", "--steps", "1"]) == 2
    assert "irem nested would take at least" in capsys.readouterr().err
    assert main(train_args(run_dir, tiny_overrides, 1, "--nproc", "100000")) == 2
    assert "--nproc 100000 needs at least 20,000.0 GB" in capsys.readouterr().err
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "command, phrase",
    [
        (
            ["data", "addition", "--set", "task.size=100000", "-n", "1"],
            "one AdditionTask problem does not fit in memory (drawing it asked for 80.0 GB",
        ),
        (
            ["data", "shortest_path", "--set", "task.max_train_nodes=100000", "-n", "1"],
            "one ShortestPathTask problem does not fit in memory",
        ),
    ],
)
def test_a_problem_too_large_to_draw_is_refused(
    tmp_path: Path, command: list[str], phrase: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "problems.safetensors"
    assert main([*command, "--out", str(out)]) == 2
    assert phrase in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "override, phrase",
    [
        ("solver.energy.hidden=1000000000", "expected (1000000000,"),
        ("solver.energy.layers=1000000", "the solver has more than 136 modules for 9 tensors"),
    ],
)
def test_eval_of_a_solver_the_weights_cannot_fit_is_refused_before_building_it(
    trained: Path, override: str, phrase: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(trained), "-n", "4", "--set", override]) == 2
    err = capsys.readouterr().err
    assert "do not fit the solver its config describes" in err and phrase in err


def test_plot_of_more_problems_than_memory_is_refused(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    assert main(["plot", str(trained), "-n", "100000000000"]) == 2
    assert "irem plot needs at least" in capsys.readouterr().err
    assert not (trained / "plots").exists()
