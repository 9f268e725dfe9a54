"""A resumed run is the same run: fields its identity or checkpoint depends on cannot change
(``--set seed=5`` is refused as ``--seed 5`` is), and saved training positions that no run
produces (an iteration the optimizer did not count, a replay cursor of 10**30) are refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from irem_core.cli.app import main
from irem_core.config.compose import build_run_config
from irem_core.errors import IremError
from irem_core.training.loop import train
from tests.cli_args import resume_args
from tests.conftest import run_files


@pytest.mark.parametrize(
    "override, field",
    [
        ("seed=5", "seed"),
        ("task.size=4", "task.size"),
        ("solver.energy.hidden=8", "solver.energy.hidden"),
        ("train.replay_capacity=64", "train.replay_capacity"),
        ("train.adam_betas=[0.5, 0.9]", "train.adam_betas"),
        ("train.weight_decay=0.1", "train.weight_decay"),
    ],
)
def test_a_resume_cannot_change_what_the_run_depends_on(
    run: Path, override: str, field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run_files(run)
    assert main(resume_args(run, 3, "--set", override)) == 2
    err = capsys.readouterr().err
    assert f"--resume cannot change {field} of the run" in err and "start a new run" in err
    assert run_files(run) == before


def test_a_resume_may_change_the_descent_and_the_schedule(run: Path) -> None:
    extra = ["--set", "solver.optimizer.step_size=2.0", "--set", "train.lr=0.001"]
    assert main(resume_args(run, 3, *extra)) == 0


def test_the_api_refuses_a_changed_seed_too(run: Path, tiny_overrides: list[str]) -> None:
    config = build_run_config(
        task="addition", overrides=[*tiny_overrides, "train.iterations=3"], seed=5
    )
    with pytest.raises(IremError, match="--resume cannot change seed"):
        train(config, run, resume=True, progress=False)


def edit_training(run: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = run / "config.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


@pytest.mark.parametrize(
    "change, phrase",
    [
        (
            lambda record: record["training"].update(replay_cursors=[10**30]),
            "training.replay_cursors[0] in config.json is 10000000000",
        ),
        (
            lambda record: record["training"].update(replay_cursors=[3]),
            "for a replay ring of 24 states (capacity 32); it should be 24",
        ),
        (
            lambda record: record.update(iteration=10**30),
            "the optimizer counts 2 updates but iteration in config.json is 10000000000",
        ),
        (
            lambda record: record.update(iteration=1),
            "the optimizer counts 2 updates but iteration in config.json is 1",
        ),
    ],
)
def test_saved_training_positions_no_run_produces_are_refused(
    run: Path,
    change: Callable[[dict[str, Any]], None],
    phrase: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    edit_training(run, change)
    before = run_files(run)
    assert main(resume_args(run, 3)) == 2
    assert phrase in capsys.readouterr().err
    assert run_files(run) == before
