"""One signal policy from process start to exit: Ctrl-C (SIGINT) or SIGTERM while a command
starts up (building or restoring the trainer, loading a run, drawing problems) ends it with
one line and exit status 130 or 143, never a traceback, and nothing is written or lost."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from irem_core.cli.app import main
from irem_core.training.loop import Trainer
from tests.cli_args import resume_args, train_args
from tests.conftest import run_files


def signalling(number: int) -> Any:
    """A stand-in that sends this process ``number``, as a user's kill or Ctrl-C would."""

    def send(*args: Any, **kwargs: Any) -> None:
        signal.raise_signal(number)

    return send


@pytest.fixture(autouse=True)
def interruptible() -> Iterator[None]:
    """Ctrl-C as in a terminal: a test run started in the background (``cmd &`` in a
    script) inherits an ignored SIGINT, which the policy rightly leaves ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_while_the_trainer_is_built_writes_nothing(
    run_dir: Path,
    tiny_overrides: list[str],
    number: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(Trainer, "__init__", signalling(number))
    assert main(train_args(run_dir, tiny_overrides, 2)) == EXIT[number]
    err = capsys.readouterr().err
    assert err == f"irem train: stopped before training started; nothing was written to {run_dir}\n"
    assert not run_dir.exists()
    assert signal.getsignal(signal.SIGTERM) == handler  # the policy ends with main


def test_a_stop_while_a_run_is_restored_leaves_it_unchanged(
    run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run_files(run)
    monkeypatch.setattr(Trainer, "restore", signalling(signal.SIGTERM))
    assert main(resume_args(run, 4)) == 143
    assert capsys.readouterr().err == (
        f"irem train: stopped before training resumed; the run in {run} is unchanged at "
        "iteration 2; continue with --resume\n"
    )
    assert run_files(run) == before


def test_a_stop_at_the_start_of_a_forced_run_puts_the_old_run_back(
    run: Path,
    tiny_overrides: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = run_files(run)
    monkeypatch.setattr(Trainer, "__init__", signalling(signal.SIGINT))
    assert main(train_args(run, tiny_overrides, 2, "--force")) == 130
    assert "stopped before training started" in capsys.readouterr().err
    assert run_files(run) == before and not (run / ".replaced").exists()


@pytest.mark.parametrize(
    "target, command",
    [
        ("irem_core.cli.evaluate.load_run", lambda run: ["eval", str(run), "-n", "4"]),
        ("irem_core.cli.data.build_task", lambda run: ["data", "addition", "--out", "p.st"]),
    ],
)
@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_during_eval_or_data_is_one_line(
    run: Path,
    target: str,
    command: Any,
    number: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(target, signalling(number))
    args = command(run)
    assert main(args) == EXIT[number]
    name = "SIGTERM" if number == signal.SIGTERM else "Ctrl-C (SIGINT)"
    assert capsys.readouterr().err == f"irem {args[0]}: stopped by {name}\n"
