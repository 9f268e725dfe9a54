"""Data-parallel training: N processes equal one process holding the same shards, checkpoints
resume under another process count, and the layout checks give clear errors.

The multi-process tests start real workers through torchrun (gloo on 127.0.0.1), once via
``python -m torch.distributed.run ... -m irem_core train`` and once via ``irem train --nproc 2``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from irem_core.cli.app import main
from irem_core.config.schema import TrainConfig
from irem_core.errors import ConfigError
from irem_core.runs.checkpoint import load_checkpoint, save_checkpoint
from irem_core.training.distributed import World, resolve_shards, without_option, world_from_env
from tests.cli_args import resume_args, train_args

pytestmark = pytest.mark.slow

TIMEOUT = 120
"""Seconds a torchrun launch may take before the test fails instead of hanging."""


def assert_same_parameters(first: Path, second: Path) -> None:
    expected, actual = (
        load_file(first / "model.safetensors"),
        load_file(second / "model.safetensors"),
    )
    assert expected.keys() == actual.keys()
    for name in expected:  # equal up to the order of floating-point sums
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-5, atol=1e-6)


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


GLOO_ABORT_RETRIES = 2
"""How often a 2-process launch is repeated while a gloo worker aborts (see
:func:`aborted_in_gloo`)."""


def aborted_in_gloo(stderr: str) -> bool:
    """Whether a torchrun worker died by ``std::terminate`` in gloo's C++ threads ("terminate
    called ...", SIGABRT), a race of torch's gloo backend seen under load: in 2 of 3 full
    suites on 2026-12-07 (at teardown) and once in CI (rank 1, while rank 0 still ran), never
    in 75 isolated launches, with or without CPU load. Nothing irem can catch: the worker
    aborts in C++. A retry says so with a warning, so the flake stays visible."""
    return "terminate called" in stderr or "SIGABRT" in stderr


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 iterations of a tiny run trained by 2 torchrun workers (replay from iteration 2)."""
    from conftest import TINY_OVERRIDES

    run_dir = tmp_path_factory.mktemp("distributed") / "two"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--standalone",  # torchrun picks and holds a free port: no race with other tests
        "-m",
        "irem_core",
        *train_args(run_dir, TINY_OVERRIDES, 3),
    ]
    for attempt in range(1 + GLOO_ABORT_RETRIES):
        shutil.rmtree(run_dir, ignore_errors=True)  # each attempt trains from scratch
        result = subprocess.run(
            command,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            timeout=TIMEOUT,
            capture_output=True,
            text=True,
        )
        if result.returncode == 0 or not aborted_in_gloo(result.stderr):
            break
        if attempt < GLOO_ABORT_RETRIES:
            warnings.warn("a gloo worker aborted; the 2-process launch was retried", stacklevel=1)
    causes = [
        line
        for line in result.stderr.splitlines()
        if "Error" in line or "what()" in line or "terminate" in line
    ]
    assert result.returncode == 0, result.stderr[-3000:] + "\n".join(causes[-20:])
    assert result.stdout.count("trained 3 iterations") == 1, result.stdout  # rank 0 alone prints
    return run_dir


def test_two_processes_train_like_one_process_holding_both_shards(
    two_process_run: Path, tmp_path: Path, tiny_overrides: list[str]
) -> None:
    single = tmp_path / "single"
    assert main(train_args(single, tiny_overrides, 3, "--set", "train.shards=2")) == 0
    assert_same_parameters(single, two_process_run)
    assert [line["iteration"] for line in metrics(two_process_run)] == [1, 2, 3]
    for ours, theirs in zip(metrics(two_process_run), metrics(single)):
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-5)  # the global mean loss
    record = json.loads((two_process_run / "config.json").read_text())
    assert record["training"]["shards"] == 2 and record["config"]["train"]["shards"] == 0
    expected = load_file(single / "state.safetensors")
    saved = load_file(two_process_run / "state.safetensors")
    assert expected.keys() == saved.keys()
    assert {"shard.0.generator", "shard.1.generator", "shard.1.replay.answer"} <= saved.keys()
    for name in expected:  # both rings and both generators reached rank 0's checkpoint
        torch.testing.assert_close(saved[name], expected[name], rtol=1e-5, atol=1e-6)


def test_a_two_process_checkpoint_resumes_in_one_process_exactly(
    two_process_run: Path, tmp_path: Path, tiny_overrides: list[str]
) -> None:
    straight = tmp_path / "straight"
    assert main(train_args(straight, tiny_overrides, 5, "--set", "train.shards=2")) == 0
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    for path in two_process_run.iterdir():
        (resumed / path.name).write_bytes(path.read_bytes())
    assert main(resume_args(resumed, 5)) == 0
    assert [line["iteration"] for line in metrics(resumed)] == [1, 2, 3, 4, 5]
    assert all(torch.isfinite(torch.tensor(line["loss"])) for line in metrics(resumed))
    assert json.loads((resumed / "config.json").read_text())["training"]["shards"] == 2
    assert_same_parameters(straight, resumed)


def launch_resuming(args: list[str], capfd: pytest.CaptureFixture[str]) -> int:
    """``irem`` ``args`` (an ``--nproc`` resume), repeated while a gloo worker aborts
    (:func:`aborted_in_gloo`); each retry resumes from the last committed checkpoint, so the
    exactness assertions still hold."""
    code = main(args)
    for _ in range(GLOO_ABORT_RETRIES):
        if code == 0 or not aborted_in_gloo(capfd.readouterr().err):
            break
        warnings.warn("a gloo worker aborted; the --nproc resume was retried", stacklevel=2)
        code = main(args)
    return code


def test_irem_train_nproc_resumes_a_one_process_checkpoint(
    tmp_path: Path,
    tiny_overrides: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    sharded = tiny_overrides + ["train.shards=2"]
    assert main(train_args(straight, sharded, 4)) == 0
    assert main(train_args(halves, sharded, 2)) == 0
    assert launch_resuming(resume_args(halves, 4, "--nproc", "2"), capfd) == 0
    assert [line["iteration"] for line in metrics(halves)] == [1, 2, 3, 4]
    assert_same_parameters(straight, halves)


def test_one_process_with_two_shards_resumes_bit_identically(
    tmp_path: Path, tiny_overrides: list[str]
) -> None:
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    sharded = tiny_overrides + ["train.shards=2"]
    assert main(train_args(straight, sharded, 4)) == 0
    assert main(train_args(halves, sharded, 2)) == 0
    assert main(resume_args(halves, 4)) == 0
    expected, resumed = (
        load_file(straight / "model.safetensors"),
        load_file(halves / "model.safetensors"),
    )
    assert all(torch.equal(expected[name], resumed[name]) for name in expected)


@pytest.mark.parametrize("before,after", [(1, 2), (2, 1), (2, 4)])
def test_changing_the_shard_count_on_resume_redistributes_the_rings(
    tmp_path: Path, tiny_overrides: list[str], before: int, after: int
) -> None:
    run_dir = tmp_path / "run"
    assert main(train_args(run_dir, tiny_overrides + [f"train.shards={before}"], 2)) == 0
    assert main(resume_args(run_dir, 4, "--set", f"train.shards={after}")) == 0
    checkpoint = load_checkpoint(run_dir)
    assert checkpoint.iteration == 4 and checkpoint.extra["shards"] == after
    assert [line["iteration"] for line in metrics(run_dir)] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(line["loss"])) for line in metrics(run_dir))
    rings = [checkpoint.state[f"shard.{index}.replay.x"] for index in range(after)]
    assert len({ring.shape for ring in rings}) == 1  # the rings stay in lockstep
    assert 0 < rings[0].shape[0] <= 32 // after  # each holds its share of replay_capacity=32


def test_a_checkpoint_from_before_sharding_still_resumes(
    tmp_path: Path, tiny_overrides: list[str]
) -> None:
    straight, legacy = tmp_path / "straight", tmp_path / "legacy"
    assert main(train_args(straight, tiny_overrides, 4)) == 0
    assert main(train_args(legacy, tiny_overrides, 2)) == 0
    checkpoint = load_checkpoint(legacy)
    state = {name.replace("shard.0.", ""): value for name, value in checkpoint.state.items()}
    extra = {
        key: value
        for key, value in checkpoint.extra.items()
        if key not in ("shards", "replay_cursors")
    }
    extra["replay_cursor"] = checkpoint.extra["replay_cursors"][0]
    record = json.loads((legacy / "config.json").read_text())
    save_checkpoint(
        legacy,
        config=checkpoint.config,
        iteration=2,
        plugins=checkpoint.plugins,
        components=checkpoint.components,
        model=checkpoint.model,
        state=state,
        extra=extra,
    )
    assert "generator" in load_checkpoint(legacy).state and record["iteration"] == 2
    assert main(resume_args(legacy, 4)) == 0
    expected, resumed = (
        load_file(straight / "model.safetensors"),
        load_file(legacy / "model.safetensors"),
    )
    assert all(torch.equal(expected[name], resumed[name]) for name in expected)


@pytest.mark.parametrize(
    "shards,world,saved,expected",
    [
        (0, 1, None, 1),
        (0, 2, None, 2),
        (0, 1, 2, 2),
        (0, 2, 4, 4),
        (0, 2, 1, 2),
        (0, 4, 2, 4),
        (4, 2, None, 4),
        (4, 1, 2, 4),
    ],
)
def test_shard_count_follows_the_config_then_the_checkpoint_then_the_world(
    shards: int, world: int, saved: int | None, expected: int
) -> None:
    settings = TrainConfig(batch_size=8, replay_batch_size=8, shards=shards)
    assert resolve_shards(settings, world, saved) == expected


@pytest.mark.parametrize(
    "settings,world,message",
    [
        (
            TrainConfig(batch_size=10, replay_batch_size=8),
            4,
            "train.batch_size=10 is the global batch "
            "and must be divisible by the 4 shards (4 processes); use 8 or 12",
        ),
        (TrainConfig(batch_size=8, replay_batch_size=6), 4, "train.replay_batch_size=6"),
        (
            TrainConfig(batch_size=8, replay_batch_size=8, shards=3),
            2,
            "train.shards=3 cannot be split over 2",
        ),
        (
            TrainConfig(batch_size=8, replay_batch_size=8, replay_capacity=2),
            4,
            "train.replay_capacity=2",
        ),
    ],
)
def test_a_batch_that_does_not_split_is_a_config_error(
    settings: TrainConfig, world: int, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_shards(settings, world)


def test_world_comes_from_torchrun_variables() -> None:
    assert world_from_env({}) == World()
    assert world_from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"}) == World(3, 1, 4)
    assert World(1, 1, 2).distributed and not World(1, 1, 2).is_main


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["train", "--nproc", "2", "--out", "d"], ["train", "--out", "d"]),
        (["train", "--nproc=2", "--no-progress"], ["train", "--no-progress"]),
        (["train", "--npr", "2", "--set", "a=1"], ["train", "--set", "a=1"]),
    ],
)
def test_the_relaunch_drops_nproc(argv: list[str], expected: list[str]) -> None:
    assert without_option(argv, "--nproc") == expected


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--nproc", "0"], "--nproc must be at least 1"),
        (
            ["--nproc", "3"],
            "train.batch_size=8 is the global batch and must be divisible by the 3 shards",
        ),
        (
            ["--nproc", "2", "--set", "train.shards=3"],
            "train.shards=3 cannot be split over 2 processes",
        ),
    ],
)
def test_bad_nproc_is_refused_before_any_worker_starts(
    run_dir: Path,
    tiny_overrides: list[str],
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2, *extra)) == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="needs fewer than 2 visible GPUs")
def test_nproc_on_cuda_needs_a_gpu_per_process(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2, "--nproc", "2", "--device", "cuda")) == 2
    expected = (
        "needs 2 GPUs (one per process)"
        if torch.cuda.device_count()
        else "no CUDA GPU is available; use --device cpu"
    )
    assert expected in capsys.readouterr().err


def test_sigterm_to_irem_train_nproc_stops_every_worker(
    tmp_path: Path, tiny_overrides: list[str]
) -> None:
    """The launcher forwards the signal to torchrun's process group: no worker is left
    writing the run, and the launcher exits 143."""
    run_dir = tmp_path / "run"
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "irem_core",
            *train_args(run_dir, tiny_overrides, 10**6),
            "--nproc",
            "2",
            "--allow-long",
        ],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + TIMEOUT
    while not ((run_dir / "metrics.jsonl").is_file() and len(metrics(run_dir)) >= 2):
        assert launcher.poll() is None and time.monotonic() < deadline, launcher.stderr.read()
        time.sleep(0.2)
    workers = os.getpgid(int((run_dir / ".lock").read_text()))  # rank 0 records its PID
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(timeout=TIMEOUT) == 143
    assert "Traceback" not in launcher.stderr.read()  # torchrun's SignalException neither
    while time.monotonic() < deadline:
        try:
            os.killpg(workers, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("torchrun workers outlived the launcher")
