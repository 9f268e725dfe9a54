"""Shared fixtures; a deterministic hypothesis profile for CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=25)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "ci"))

torch.set_num_threads(1)  # no oversubscription beside subprocess tests; results do not depend on it
os.environ["OMP_NUM_THREADS"] = "1"  # the same for the subprocesses; irem then keeps it
os.environ["IREM_NATIVE_BF16"] = "0"  # precision "auto" is fp32 whatever the CPU, here and
# in subprocesses: results do not depend on the machine (tests of auto patch the detection)

TINY_OVERRIDES = [
    "task.size=3",
    "solver.energy.hidden=16",
    "train.batch_size=8",
    "train.replay_batch_size=8",
    "train.replay_capacity=32",
    "train.steps=3",
    "train.log_every=1",
    "train.eval_every=2",
    "train.eval_problems=8",
    "train.checkpoint_every=2",
    "eval.problems=16",
    "eval.steps=[2,4]",
]
"""Overrides that make an addition run take milliseconds per iteration."""

TINY_GRAPH_OVERRIDES = [
    "task.max_train_nodes=5",
    "solver.energy.hidden=16",
    "train.iterations=3",
    "train.batch_size=8",
    "train.replay_batch_size=4",
    "train.replay_capacity=32",
    "train.steps=2",
    "train.log_every=1",
    "train.eval_every=2",
    "train.eval_problems=4",
    "train.checkpoint_every=2",
    "eval.problems=6",
    "eval.batch_size=4",
    "eval.steps=[2,4]",
]
"""A graph run that takes well under a second per iteration; replay starts at iteration 2."""


@pytest.fixture
def tiny_overrides() -> list[str]:
    """``--set`` overrides for a tiny addition run."""
    return list(TINY_OVERRIDES)


@pytest.fixture
def tiny_config(tiny_overrides: list[str]) -> Any:
    """A tiny addition :class:`~irem_core.config.schema.RunConfig` (4 iterations)."""
    from irem_core.config.compose import build_run_config

    return build_run_config(
        task="addition", preset="paper", overrides=tiny_overrides + ["train.iterations=4"]
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A fresh directory for a run."""
    return tmp_path / "run"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny addition run of 2 iterations, trained once per test module."""
    from irem_core.cli.app import main
    from tests.cli_args import train_args

    run = tmp_path_factory.mktemp("trained") / "run"
    assert main(train_args(run, list(TINY_OVERRIDES), 2)) == 0
    return run


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    """A copy of :func:`trained` for one test to tamper with."""
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    return copy


def run_files(run: Path) -> dict[str, bytes]:
    """The bytes of every file directly in ``run``, by name."""
    return {path.name: path.read_bytes() for path in sorted(run.iterdir()) if path.is_file()}
