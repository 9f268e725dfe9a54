"""``irem plot``: a run's training curves, error against steps and size curve as PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from irem_core.cli.app import main

PNG = b"\x89PNG\r\n\x1a\n"


def train(run_dir: Path, task: str, overrides: list[str]) -> None:
    sets = [
        arg
        for override in overrides
        + ["train.iterations=4", "train.eval_every=2", "train.eval_problems=4", "train.log_every=1"]
        for arg in ("--set", override)
    ]
    assert (
        main(
            [
                "train",
                "--task",
                task,
                "--preset",
                "quick",
                "--out",
                str(run_dir),
                "--no-progress",
                *sets,
            ]
        )
        == 0
    )


def test_plot_writes_training_and_step_curves(
    tmp_path: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    train(tmp_path / "run", "addition", tiny_overrides)
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "run"), "-n", "8"]) == 0
    written = [Path(line) for line in capsys.readouterr().out.splitlines()]
    assert [path.name for path in written] == ["training.png", "error_vs_steps.png"]
    assert all(path.parent == tmp_path / "run" / "plots" for path in written)
    assert all(path.read_bytes().startswith(PNG) for path in written)


def test_plot_draws_a_size_curve_for_sized_tasks_only(
    tmp_path: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    train(
        tmp_path / "graph",
        "shortest_path",
        [
            "task.max_train_nodes=4",
            "task.same_nodes=4",
            "task.harder_nodes=5",
            "solver.energy.hidden=8",
            "train.batch_size=4",
            "train.replay_batch_size=2",
            "eval.batch_size=4",
            "eval.steps=[2]",
        ],
    )
    assert (
        main(
            [
                "plot",
                str(tmp_path / "graph"),
                "-n",
                "4",
                "--sizes",
                "3,6",
                "--out",
                str(tmp_path / "plots"),
            ]
        )
        == 0
    )
    assert (tmp_path / "plots" / "size_curve.png").read_bytes().startswith(PNG)
    train(tmp_path / "matrix", "addition", tiny_overrides)
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "matrix"), "--sizes", "3"]) == 2
    assert "no size option" in capsys.readouterr().err


def test_plot_of_a_directory_without_a_run_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", str(tmp_path)]) == 2
    assert "irem plot: error:" in capsys.readouterr().err
