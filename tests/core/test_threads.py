"""``--threads``: a fixed count, or ``auto``: torch's count minus the cores other processes
keep busy, re-checked while training, with one warning."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import irem_core.threads as threads
from irem_core.cli.app import main
from irem_core.errors import IremError
from tests.cli_args import train_args
from tests.conftest import TINY_OVERRIDES


@pytest.fixture(autouse=True)
def keep_torch_threads() -> object:
    """Restore torch's thread count after each test."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_parse_threads_takes_auto_or_a_positive_count() -> None:
    assert threads.parse_threads("auto") == "auto"
    assert threads.parse_threads("3") == 3
    for text in ("0", "-1", "two", ""):
        with pytest.raises(IremError, match="positive number of threads"):
            threads.parse_threads(text)


def test_cpu_busy_seconds_counts_work_of_the_given_cpus_only(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # fields: user nice system idle iowait irq softirq steal (ticks)
    stat.write_text(
        "cpu  900 0 0 900 0 0 0 0 0 0\n"
        "cpu0 100 10 20 500 70 1 2 3 0 0\n"
        "cpu1 400 0 0 400 0 0 0 0 0 0\n"
        "intr 12345\n"
    )
    tick = 1 / threads.TICKS_PER_SECOND
    assert threads.cpu_busy_seconds({0}, stat) == pytest.approx(136 * tick)
    assert threads.cpu_busy_seconds({0, 1}, stat) == pytest.approx(536 * tick)
    assert threads.cpu_busy_seconds({0}, tmp_path / "missing") is None


def fake_machine(
    monkeypatch: pytest.MonkeyPatch, cores: int, busy_per_second: list[float]
) -> threads.ThreadPolicy:
    """An ``auto`` policy on ``cores`` CPUs where the CPUs' busy seconds grow by
    ``busy_per_second[k]`` over the ``k``-th one-second interval and this process uses none."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    clock = itertools.count()
    totals = itertools.accumulate([0.0, *busy_per_second])
    monkeypatch.setattr(
        threads,
        "time",
        SimpleNamespace(
            monotonic=lambda: float(next(clock)), process_time=lambda: 0.0, sleep=lambda _: None
        ),
    )
    monkeypatch.setattr(threads, "cpu_busy_seconds", lambda cpus, stat=None: next(totals))
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(cores)), False)
    return threads.ThreadPolicy("auto", "train")


def test_auto_leaves_the_busy_cores_to_their_processes_and_follows_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = fake_machine(monkeypatch, 4, [1.0, 0.2, 3.0, 0.0])
    assert policy.start() == 3  # one core busy: three threads
    assert "keep 1.0 of 4 cores busy; using 3 torch threads" in capsys.readouterr().err
    assert policy.check() == 4  # the other process finished
    assert policy.check() == 1  # three busy cores
    assert capsys.readouterr().err == ""  # the warning is said once
    assert policy.check() == 4


def test_auto_on_a_quiet_machine_uses_every_core_silently(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = fake_machine(monkeypatch, 2, [0.25])
    assert policy.start() == 2
    assert capsys.readouterr().err == ""


def test_a_fixed_count_or_omp_num_threads_is_never_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = fake_machine(monkeypatch, 4, [3.0, 3.0])
    fixed = threads.ThreadPolicy(2, "eval")
    assert fixed.start() == 2 and fixed.check() == 2 and torch.get_num_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    torch.set_num_threads(3)
    from_environment = threads.ThreadPolicy("auto", "eval")
    assert from_environment.start() == 3 and from_environment.check() == 3
    assert policy.fixed is None


def test_train_and_eval_take_threads_and_log_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main([*train_args(run, TINY_OVERRIDES, 2), "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1
    assert '"threads": 1.0' in (run / "metrics.jsonl").read_text()
    assert main(["eval", str(run), "-n", "4", "--threads", "1"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        main(["eval", str(run), "--threads", "0"])
    assert refused.value.code == 2
    assert "positive number of threads" in capsys.readouterr().err
