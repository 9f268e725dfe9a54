"""Inputs that used to give a traceback, write to the wrong place or speak in attrs internals:
each is refused with one line naming it and the allowed values (exit 2), and nothing is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from irem_core.cli.app import main
from tests.cli_args import train_args


@pytest.mark.parametrize("device", ["meta", "cpu:0x", "mps"])
def test_a_device_irem_does_not_run_on_is_refused(
    run_dir: Path, tiny_overrides: list[str], device: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2, "--device", device)) == 2
    err = capsys.readouterr().err
    assert f"device {device!r}" in err and "Traceback" not in err
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--task", "addition", "--out", ""],
        ["data", "addition", "-n", "2", "--out", ""],
        ["eval", ""],
        ["nested", ""],
    ],
)
def test_an_empty_path_is_refused_not_the_current_directory(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    os.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(command)
    assert exit_.value.code == 2
    assert "expected a path, got an empty string" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.lr_decay=foo", "train.lr_decay: must be one of 'none', 'linear', 'cosine', got"),
        ("train.precision=foo", "train.precision: must be one of 'auto', 'fp32', 'bf16', got"),
        ("solver.optimizer.halt=foo", "solver.optimizer.halt: must be one of 'none', 'energy'"),
        (
            "train.loggers=jsonl",
            "expected a list, got str 'jsonl' (for one item, write [\"jsonl\"])",
        ),
        ("eval.steps=3", "eval.steps: expected a list, got int 3"),
    ],
)
def test_a_bad_choice_or_a_string_for_a_list_names_what_is_allowed(
    run_dir: Path,
    tiny_overrides: list[str],
    override: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(train_args(run_dir, [*tiny_overrides, override], 2)) == 2
    err = capsys.readouterr().err
    assert message in err and "Attribute(" not in err
    assert not run_dir.exists()
