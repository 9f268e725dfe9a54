"""The best checkpoint: the weights of the lowest validation MSE, kept across a resume and
evaluated with ``irem eval --checkpoint best``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from irem_core.cli.app import main
from irem_core.runs.checkpoint import BEST_FILE, load_best, save_best
from irem_core.runs.load import load_run
from tests.cli_args import resume_args, train_args


def test_the_lowest_validation_mse_is_kept_and_evaluated(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, [*tiny_overrides, "train.lr=0.01"], 6)) == 0
    evaluations = {
        record["iteration"]: record["eval_same_mse"]["3"]
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if "eval_same_mse" in (record := json.loads(line))
    }
    assert sorted(evaluations) == [2, 4, 6]
    best = load_best(run_dir)
    assert best.iteration == min(evaluations, key=evaluations.__getitem__)
    assert best.mse == evaluations[best.iteration]
    solver = load_run(run_dir, checkpoint="best").solver
    assert all(
        torch.equal(tensor, best.model[name]) for name, tensor in solver.state_dict().items()
    )
    capsys.readouterr()
    assert (
        main(["eval", str(run_dir), "--checkpoint", "best", "--steps", "3", "--json", "-n", "8"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["checkpoint"], report["iteration"]) == ("best", best.iteration)
    assert main(["eval", str(run_dir), "--checkpoint", "best", "--steps", "3", "-n", "8"]) == 0
    assert f"best weights from iteration {best.iteration}" in capsys.readouterr().out


def test_resume_keeps_the_best(run_dir: Path, tiny_overrides: list[str]) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    model = load_best(run_dir).model
    save_best(run_dir, model, 1, 0.0)  # a best no later evaluation can beat
    assert main(resume_args(run_dir, 4)) == 0
    assert (load_best(run_dir).iteration, load_best(run_dir).mse) == (1, 0.0)


def test_no_best_without_periodic_evaluation_and_a_damaged_best(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, [*tiny_overrides, "train.eval_every=0"], 2)) == 0
    assert not (run_dir / BEST_FILE).exists()
    assert main(["eval", str(run_dir), "--checkpoint", "best"]) == 2
    assert "holds no best.safetensors" in capsys.readouterr().err
    (run_dir / BEST_FILE).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    assert main(["eval", str(run_dir), "--checkpoint", "best"]) == 2
    assert "best.safetensors is damaged" in capsys.readouterr().err
    assert main(resume_args(run_dir, 3)) == 2
    assert "best.safetensors is damaged" in capsys.readouterr().err
