"""``train.precision``: bf16 autocast only where the device multiplies bf16 natively, with
float32 weights, gradients, answers and loss; a clear exit-2 error elsewhere; ``auto`` (the
default) resolves to bf16 where native and to fp32, exactly as before, elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import irem_core.training.precision as precision
from irem_core.cli.app import main
from irem_core.config.compose import build_run_config
from irem_core.errors import IremError
from irem_core.plugins.manager import load_plugins
from irem_core.training.loop import Trainer
from irem_core.training.rundir import prepare_directory
from tests.cli_args import train_args
from tests.conftest import TINY_OVERRIDES

CPU = torch.device("cpu")


def test_cpu_flags_reads_the_first_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\nflags\t: fpu\n"
    )
    assert precision.cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert precision.cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize(
    ("flags", "native"),
    [({"avx2", "avx512f"}, False), ({"avx512_bf16"}, True), ({"amx_tile", "amx_bf16"}, True)],
)
def test_native_bf16_on_cpu_follows_the_flags_unless_the_environment_says(
    flags: set[str], native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IREM_NATIVE_BF16")  # conftest sets 0
    assert precision.native_bf16(CPU, frozenset(flags)) is native
    for told in ("0", "1"):
        monkeypatch.setenv("IREM_NATIVE_BF16", told)
        assert precision.native_bf16(CPU, frozenset(flags)) is (told == "1")


def test_bf16_without_native_support_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(precision, "native_bf16", lambda device, flags=None: False)
    run = tmp_path / "run"
    sets = [arg for item in TINY_OVERRIDES for arg in ("--set", item)]
    args = ["train", "--task", "addition", "--out", str(run), "--no-progress", *sets]
    assert main([*args, "--set", "train.precision=bf16"]) == 2
    message = capsys.readouterr().err
    assert "AVX-512 BF16" in message and "train.precision=fp32 or auto" in message
    assert not run.exists()
    precision.check_precision("fp32", CPU)  # fp32 is never refused


def test_an_unknown_precision_is_a_config_error() -> None:
    with pytest.raises(IremError, match="precision"):
        build_run_config(task="addition", preset="quick", overrides=["train.precision=fp16"])


def first_loss(task: str, setting: str, tmp_path: Path) -> tuple[Trainer, float]:
    """One training iteration of a small run at ``train.precision=setting``."""
    overrides = [
        f"train.precision={setting}",
        "train.batch_size=16",
        "train.replay_batch_size=16",
        "train.eval_every=0",
        "solver.energy.hidden=32",
    ]
    config = build_run_config(task=task, preset="quick", overrides=overrides)
    plugins = load_plugins()
    directory = tmp_path / f"{task}-{setting}"
    prepare_directory(directory, resume=False, force=False, plugins=plugins)
    trainer = Trainer(config, directory, plugins=plugins)
    loss, _ = trainer.step()
    return trainer, float(loss)


@pytest.mark.parametrize("task", ["addition", "shortest_path"])
def test_bf16_training_keeps_float32_state_and_a_close_loss(task: str, tmp_path: Path) -> None:
    _, fp32_loss = first_loss(task, "fp32", tmp_path)
    trainer, bf16_loss = first_loss(task, "bf16", tmp_path)
    assert {parameter.dtype for parameter in trainer.parameters} == {torch.float32}
    gradients = [parameter.grad for parameter in trainer.parameters]
    assert {gradient.dtype for gradient in gradients if gradient is not None} == {torch.float32}
    stored = trainer.local_shards[0].buffer.sample(4, torch.Generator().manual_seed(0))
    assert all(value.dtype != torch.bfloat16 for value in stored.values())
    assert bf16_loss != fp32_loss  # autocast ran
    assert abs(bf16_loss - fp32_loss) <= 0.05 * fp32_loss


@pytest.mark.parametrize(("native", "resolved"), [(False, "fp32"), (True, "bf16")])
def test_auto_resolves_to_bf16_where_native_and_the_run_records_it(
    native: bool, resolved: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(precision, "native_bf16", lambda device, flags=None: native)
    assert precision.resolve_precision("auto", CPU) == resolved
    assert precision.resolve_precision("fp32", CPU) == "fp32"
    run = tmp_path / "run"
    assert main(train_args(run, TINY_OVERRIDES, 2)) == 0  # no precision given: auto
    saved = json.loads((run / "config.json").read_text())["config"]["train"]
    assert saved["precision"] == resolved
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {line["bf16"] for line in lines} == {float(native)}


def test_auto_without_native_bf16_trains_exactly_like_fp32(tmp_path: Path) -> None:
    runs = {}
    for setting in ("auto", "fp32"):
        runs[setting] = tmp_path / setting
        overrides = [*TINY_OVERRIDES, f"train.precision={setting}"]
        assert main(train_args(runs[setting], overrides, 3)) == 0
    weights = {setting: (run / "model.safetensors").read_bytes() for setting, run in runs.items()}
    assert weights["auto"] == weights["fp32"]


def test_eval_reports_its_precision_and_refuses_emulated_bf16(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(train_args(run, TINY_OVERRIDES, 2)) == 0
    capsys.readouterr()
    for setting in ("fp32", "auto"):  # auto: fp32 here (no native bf16)
        assert main(["eval", str(run), "-n", "4", "--json", "--precision", setting]) == 0
        assert json.loads(capsys.readouterr().out)["precision"] == "fp32"
    assert main(["eval", str(run), "-n", "4", "--precision", "bf16"]) == 2
    assert "--precision=bf16 needs native bf16" in capsys.readouterr().err
