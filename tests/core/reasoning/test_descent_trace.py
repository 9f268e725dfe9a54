"""``benchmarks.diagnostics.descent_trace``: one row per step of a trained run's own descent."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.diagnostics.descent_trace import trace
from irem_core.cli.app import main
from irem_core.runs.load import load_run


@pytest.fixture
def trained(run_dir: Path, tiny_overrides: list[str]) -> Path:
    """A two-iteration shortest-path run (a sized task) with a small energy."""
    overrides = [value for value in tiny_overrides if not value.startswith("task.")]
    sets = [item for value in [*overrides, "train.iterations=2"] for item in ("--set", value)]
    command = ["train", "--task", "shortest_path", "--out", str(run_dir), "--no-progress"]
    assert main([*command, *sets]) == 0
    return run_dir


def test_trace_follows_the_solver_and_line_search_never_raises_the_energy(trained: Path) -> None:
    plain = trace(load_run(trained, overrides=["solver.optimizer.step_size=1000"]), 6, 4, 4)
    assert [row["step"] for row in plain] == [0, 1, 2, 3, 4]
    assert plain[0]["rose"] == 0.0
    assert plain[0]["rms"] <= 1.0  # starts are drawn in [-1, 1]
    line_search = ["solver.optimizer.step_size=1000", "solver.optimizer.name=linesearch"]
    searched = trace(load_run(trained, overrides=line_search), 6, 4, 4)
    assert searched[0] == plain[0]  # the same problems and starts
    assert all(row["rose"] == 0.0 for row in searched)  # Armijo: every accepted step descends
    default = trace(load_run(trained), 6, 4, 4)
    assert default[-1]["mse"] != plain[-1]["mse"]  # the override reached the solver
