"""Fidelity to the release: first-layer initialisation and disjoint random streams."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from irem_core.cli.app import main
from irem_core.config.compose import build_run_config
from irem_core.plugins.manager import Plugins
from irem_core.reasoning.layers import init_as_concatenation
from irem_core.runs.build import build_solver, build_task
from irem_core.seeding import derive_seed
from irem_core.training.loop import Trainer


@pytest.mark.parametrize("task", ["addition", "inverse"])
def test_split_first_layer_starts_with_the_concatenated_layers_bounds(task: str) -> None:
    config = build_run_config(
        task=task, preset="paper", overrides=["task.size=6", "solver.energy.hidden=64"]
    )
    energy = build_solver(config.solver, build_task(config.task), seed=0).energy_model
    fan_in = energy.answer_layer.in_features + energy.input_layer.in_features
    reference = nn.Linear(fan_in, 64)
    bound = 1 / math.sqrt(fan_in)
    for weight in (energy.answer_layer.weight, energy.input_layer.weight, energy.answer_layer.bias):
        assert weight.abs().max() <= bound
    # the draws fill the concatenated layer's range, not the answer part's wider one
    assert energy.answer_layer.weight.abs().max() > 0.9 * bound
    assert reference.weight.abs().max() <= bound < 1 / math.sqrt(energy.answer_layer.in_features)


def test_concatenated_init_rejects_parts_of_different_widths() -> None:
    with pytest.raises(ValueError, match="same out_features"):
        init_as_concatenation([nn.Linear(2, 3), nn.Linear(2, 4)])


def test_derived_seeds_differ_by_purpose_and_seed() -> None:
    purposes = [
        "train-shard:0",
        "train-shard:1",
        "validation",
        "problems:same",
        "problems:harder",
        "starts:same",
        "nested",
    ]
    seeds = {derive_seed(seed, purpose) for seed in (0, 1) for purpose in purposes}
    assert len(seeds) == 2 * len(purposes) and all(0 <= seed < 2**63 for seed in seeds)


def test_default_training_problems_are_not_test_or_validation_problems(
    tiny_overrides: list[str], tmp_path: Path, irem_plugins: Plugins
) -> None:
    """``irem data --seed 0`` once wrote the first training batch of a seed-0 run."""
    config = build_run_config(task="addition", preset="paper", overrides=tiny_overrides)
    trainer = Trainer(config, tmp_path / "run", plugins=irem_plugins)
    training = trainer.task.sample("train", 64, trainer.local_shards[0].generator).inputs
    path = tmp_path / "same.safetensors"
    assert (
        main(
            [
                "data",
                "addition",
                "--split",
                "same",
                "-n",
                "64",
                "--seed",
                "0",
                "--set",
                "task.size=3",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    test = load_file(path)["x"]
    validation = trainer.eval_problems.inputs
    for other in (test, validation):
        assert not torch.isclose(training[:, None], other[None]).all(-1).any()
    assert not torch.isclose(test[:, None], validation[None]).all(-1).any()
