"""Graph tasks end to end: train with replay, evaluate, sizes, problem files, presets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irem_core.cli.app import main
from irem_core.config.compose import build_run_config
from tests.conftest import TINY_GRAPH_OVERRIDES


def train_tiny(task: str, directory: Path) -> None:
    argv = ["train", "--task", task, "--preset", "quick", "--out", str(directory), "--no-progress"]
    for override in TINY_GRAPH_OVERRIDES:
        argv += ["--set", override]
    assert main(argv) == 0


@pytest.mark.parametrize("task", ["edge_copy", "connected_components", "shortest_path"])
def test_tiny_training_and_evaluation(task: str, tmp_path: Path, capsys) -> None:
    train_tiny(task, tmp_path / "run")
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    lines = [json.loads(line) for line in metrics]
    assert [line["iteration"] for line in lines] == [1, 2, 3]
    assert "eval_same_mse" in lines[1]
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--split", "harder", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 6 and set(report["mse"]) == {"2", "4", "min_energy"}
    assert report["nonfinite_problems"] == 0
    if task == "connected_components":
        assert set(report["metrics"]["accuracy"]) == {"2", "4", "min_energy"}
        assert all(0 <= value <= 1 for value in report["metrics"]["accuracy"].values())


def test_eval_over_sizes_and_problem_files(tmp_path: Path, capsys) -> None:
    train_tiny("shortest_path", tmp_path / "run")
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--sizes", "3,7", "--steps", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["sizes"]) == {"3", "7"}
    data = tmp_path / "problems.safetensors"
    assert main(["data", "shortest_path", "--split", "harder", "-n", "5", "--out", str(data)]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 5


def test_steps_per_size_gives_each_size_budgets_proportional_to_it(tmp_path: Path, capsys) -> None:
    train_tiny("shortest_path", tmp_path / "run")
    run = str(tmp_path / "run")
    capsys.readouterr()
    argv = ["eval", run, "--sizes", "4,6", "--steps-per-size", "0.5,1", "-n", "3"]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["steps_per_size"] == [0.5, 1.0]
    assert set(report["sizes"]["4"]["mse"]) == {"2", "4", "min_energy"}
    assert set(report["sizes"]["6"]["mse"]) == {"3", "6", "min_energy"}
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "0.5xn steps" in table and "1xn steps" in table
    for bad in (
        ["eval", run, "--steps-per-size", "0.5"],
        ["eval", run, "--sizes", "4", "--steps", "2", "--steps-per-size", "0.5"],
        ["eval", run, "--sizes", "4", "--steps-per-size", "0.5,0.6"],
    ):
        assert main(bad) == 2
        assert "--steps-per-size" in capsys.readouterr().err


def test_wrong_problem_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    train_tiny("edge_copy", tmp_path / "run")
    data = tmp_path / "matrices.safetensors"
    assert main(["data", "addition", "-n", "2", "--set", "task.size=2", "--out", str(data)]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--data", str(data)]) == 2
    assert "graph problem file" in capsys.readouterr().err


def test_presets_follow_the_release() -> None:
    paper = build_run_config(task="shortest_path", preset="paper")
    train = paper.train
    assert (train.batch_size, train.replay_batch_size, train.steps) == (512, 32, 5)
    assert (train.iterations, train.lr, paper.eval.steps) == (10_000, 1e-4, [10, 20, 40])
    assert paper.solver.options.energy.name == "gine"
    assert paper.solver.options.optimizer.options.step_size == 100.0
    quick = build_run_config(task="connected_components", preset="quick")
    assert quick.solver.options.energy.name == "gine"
