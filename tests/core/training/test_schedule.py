"""Learning-rate schedules, clipping, AdamW and the weight average: shapes and exact resumes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from irem_core.config.compose import build_run_config
from irem_core.config.schema import TrainConfig
from irem_core.errors import ConfigError
from irem_core.plugins.manager import load_plugins
from irem_core.training.loop import Trainer
from irem_core.training.rundir import prepare_directory
from irem_core.training.schedule import learning_rate


def test_warmup_then_cosine_reaches_the_final_fraction() -> None:
    settings = TrainConfig(iterations=11, lr=1.0, lr_warmup=2, lr_decay="cosine", lr_final=0.1)
    rates = [learning_rate(settings, update) for update in range(11)]
    assert rates[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert rates[-1] == pytest.approx(0.1)
    assert rates[6] == pytest.approx(0.55)  # half-way down the cosine


def test_linear_decay_and_constant() -> None:
    linear = TrainConfig(iterations=5, lr=2.0, lr_decay="linear")
    assert [learning_rate(linear, update) for update in range(5)] == pytest.approx(
        [2.0, 1.5, 1.0, 0.5, 0.0]
    )
    assert {learning_rate(TrainConfig(iterations=5, lr=3.0), update) for update in range(5)} == {
        3.0
    }


@given(
    iterations=st.integers(1, 5000),
    warmup=st.integers(0, 500),
    decay=st.sampled_from(["none", "linear", "cosine"]),
    final=st.floats(0.0, 1.0),
)
def test_rates_stay_between_the_final_and_the_peak_and_never_rise_after_warmup(
    iterations: int, warmup: int, decay: str, final: float
) -> None:
    settings = TrainConfig(
        iterations=iterations, lr=1e-3, lr_warmup=warmup, lr_decay=decay, lr_final=final
    )
    rates = [learning_rate(settings, update) for update in range(iterations)]
    assert all(0 <= rate <= 1e-3 * (1 + 1e-12) for rate in rates)
    assert all(rate > 0 for rate in rates[:warmup])
    after = rates[min(warmup, iterations) :]
    assert all(later <= earlier * (1 + 1e-12) for earlier, later in itertools.pairwise(after))
    assert all(rate >= 1e-3 * final * (1 - 1e-12) for rate in after)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.lr_decay=step", "lr_decay"),
        ("train.adam_betas=[0.9]", "adam_betas"),
        ("train.ema_decay=1.0", "ema_decay"),
        ("train.lr_final=2.0", "lr_final"),
    ],
)
def test_bad_schedule_settings_are_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_run_config(task="addition", overrides=[override])


RECIPE = [
    "train.lr=1e-3",
    "train.lr_warmup=2",
    "train.lr_decay=cosine",
    "train.lr_final=0.1",
    "train.grad_clip=0.5",
    "train.ema_decay=0.9",
    "train.weight_decay=0.01",
    "train.adam_betas=[0.8,0.99]",
]


def _trainer(overrides: list[str], directory: Path, resume: bool = False) -> Trainer:
    config = build_run_config(
        task="addition", preset="paper", overrides=overrides + RECIPE + ["train.iterations=6"]
    )
    plugins = load_plugins()
    prepare_directory(directory, resume=resume, force=False, plugins=plugins)
    trainer = Trainer(config, directory, plugins=plugins)
    if resume:
        trainer.restore()
    return trainer


def test_a_decaying_averaged_clipped_run_resumes_exactly(
    tiny_overrides: list[str], tmp_path: Path
) -> None:
    straight = _trainer(tiny_overrides, tmp_path / "straight")
    for _ in range(6):
        straight.step()
        straight.iteration += 1
    straight.save()
    first = _trainer(tiny_overrides, tmp_path / "halves")
    for _ in range(3):
        first.step()
        first.iteration += 1
    first.save()
    second = _trainer(tiny_overrides, tmp_path / "halves", resume=True)
    assert second.iteration == 3
    for _ in range(3):
        second.step()
        second.iteration += 1
    assert all(
        torch.equal(a, b)
        for a, b in zip(straight.solver.state_dict().values(), second.solver.state_dict().values())
    )
    assert straight.average is not None and second.average is not None
    assert all(
        torch.equal(straight.average.average[name], second.average.average[name])
        for name in straight.average.average
    )
    # the average is what the run saves and evaluates, and it differs from the raw weights
    assert any(
        not torch.equal(straight.average.average[name], tensor)
        for name, tensor in straight.solver.state_dict().items()
    )


def test_the_average_is_the_evaluated_model_and_the_raw_weights_come_back(
    tiny_overrides: list[str], tmp_path: Path
) -> None:
    trainer = _trainer(tiny_overrides, tmp_path / "run")
    trainer.step()
    raw = {name: tensor.clone() for name, tensor in trainer.solver.state_dict().items()}
    with trainer.evaluated_weights():
        inside = {name: tensor.clone() for name, tensor in trainer.solver.state_dict().items()}
    assert trainer.average is not None
    assert all(torch.equal(inside[name], trainer.average.average[name]) for name in inside)
    assert all(
        torch.equal(raw[name], tensor) for name, tensor in trainer.solver.state_dict().items()
    )
