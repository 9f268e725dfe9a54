"""The CUDA path: the same code trains and solves on a GPU, without host syncs in the inner loop.

These tests need a CUDA device and are skipped where none is visible; on a GPU machine run
``pytest -m gpu``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from irem_core.cli.app import main
from irem_core.runs.load import load_run

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

GRAPH_OVERRIDES = [
    "task.max_train_nodes=5",
    "task.same_nodes=5",
    "train.batch_size=8",
    "train.replay_batch_size=2",
    "train.steps=2",
    "train.eval_every=0",
    "eval.problems=8",
    "eval.steps=[2,4]",
]


def sets(overrides: list[str]) -> list[str]:
    return [word for override in overrides for word in ("--set", override)]


@pytest.mark.parametrize(
    "task, preset_overrides", [("addition", None), ("shortest_path", GRAPH_OVERRIDES)]
)
def test_trains_on_cuda_and_the_checkpoint_loads_on_cpu(
    tmp_path: Path, tiny_overrides: list[str], task: str, preset_overrides: list[str] | None
) -> None:
    overrides = tiny_overrides if preset_overrides is None else preset_overrides
    run = tmp_path / task
    assert (
        main(
            [
                "train",
                "--task",
                task,
                "--preset",
                "quick",
                "--device",
                "cuda",
                "--out",
                str(run),
                "--no-progress",
                *sets(overrides),
                "--set",
                "train.iterations=3",
            ]
        )
        == 0
    )
    on_cpu = load_run(run, "cpu")
    assert all(
        parameter.device.type == "cpu" and torch.isfinite(parameter).all()
        for parameter in on_cpu.solver.parameters()
    )
    assert main(["eval", str(run), "--device", "cpu", "-n", "8", "--steps", "2"]) == 0


def test_the_fixed_budget_solve_has_no_host_sync(tmp_path: Path, tiny_overrides: list[str]) -> None:
    run = tmp_path / "addition"
    assert (
        main(
            [
                "train",
                "--task",
                "addition",
                "--device",
                "cuda",
                "--out",
                str(run),
                "--no-progress",
                *sets(tiny_overrides),
                "--set",
                "train.iterations=2",
            ]
        )
        == 0
    )
    trained = load_run(run, "cuda")
    generator = torch.Generator("cuda").manual_seed(0)
    problems = trained.task.sample("same", 16, generator)
    y0 = trained.task.init_answer(problems, generator)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        trajectory = trained.solver.solve(problems, y0, 20, record=True)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert trajectory.answers.shape == (21, *y0.shape)
