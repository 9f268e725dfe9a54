"""Training loggers: the built-in jsonl, csv and tensorboard, the docs' third-party one,
errors."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from irem_core.cli.app import main
from irem_core.plugins.manager import Plugins, build_plugins, entry_point_sources, module_plugin
from irem_core.training.rundir import put_back, set_aside
from tests.cli_args import resume_args, train_args

ALL = 'train.loggers=["jsonl", "csv", "tensorboard"]'


def csv_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def scalars(run_dir: Path) -> dict[str, list[int]]:
    """The steps of every scalar tag of the run's TensorBoard events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return {tag: [event.step for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_jsonl_csv_and_tensorboard_log_the_same_values(
    run_dir: Path, tiny_overrides: list[str]
) -> None:
    assert main(train_args(run_dir, [*tiny_overrides, ALL], 3)) == 0
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [json.dumps(record) for record in records] == lines  # the format of before
    assert [list(record)[:5] for record in records] == [
        ["iteration", "elapsed_s", "loss", "problems_per_s", "lr"]
    ] * 3
    assert "eval_same_mse" not in records[0] and set(records[1]["eval_same_mse"]) == {
        "3",
        "min_energy",
    }
    rows = csv_rows(run_dir)
    assert list(rows[0]) == [
        "iteration",
        "elapsed_s",
        "loss",
        "problems_per_s",
        "lr",
        "bf16",
        "threads",
        "eval_same_mse/3",
        "eval_same_mse/min_energy",
    ]
    assert [row["iteration"] for row in rows] == ["1", "2", "3"]
    assert rows[0]["eval_same_mse/3"] == ""
    assert [float(row["loss"]) for row in rows] == [record["loss"] for record in records]
    assert scalars(run_dir) == {
        "elapsed_s": [1, 2, 3],
        "loss": [1, 2, 3],
        "lr": [1, 2, 3],
        "problems_per_s": [1, 2, 3],
        "bf16": [1, 2, 3],
        "threads": [1, 2, 3],
        "eval_same_mse/3": [2, 3],
        "eval_same_mse/min_energy": [2, 3],
    }


def test_resume_drops_what_was_logged_after_the_checkpoint(
    run_dir: Path, tiny_overrides: list[str]
) -> None:
    assert main(train_args(run_dir, [*tiny_overrides, ALL], 2)) == 0
    rows = (run_dir / "metrics.csv").read_text()
    (run_dir / "metrics.csv").write_text(rows + "3,9.0,9.0,9.0,9.0,9.0,9.0\n4,9.")  # killed
    assert main(resume_args(run_dir, 4)) == 0
    rows_after = csv_rows(run_dir)
    assert [row["iteration"] for row in rows_after] == ["1", "2", "3", "4"]
    assert "9.0" not in rows_after[2].values()
    assert scalars(run_dir)["loss"] == [1, 2, 3, 4]
    assert [
        json.loads(line)["iteration"]
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
    ] == [1, 2, 3, 4]


def test_force_sets_every_logger_file_aside(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(train_args(run_dir, [*tiny_overrides, 'train.loggers=["csv", "tensorboard"]'], 1)) == 0
    )
    assert main(train_args(run_dir, [*tiny_overrides, 'train.loggers=["csv"]'], 1)) == 2
    assert "metrics.csv, tensorboard" in capsys.readouterr().err
    assert (
        main([*train_args(run_dir, [*tiny_overrides, 'train.loggers=["csv"]'], 2), "--force"]) == 0
    )
    assert [row["iteration"] for row in csv_rows(run_dir)] == ["1", "2"]
    assert not (run_dir / "tensorboard").exists()


def test_a_failed_force_puts_logger_folders_back(tmp_path: Path, irem_plugins: Plugins) -> None:
    (tmp_path / "tensorboard").mkdir()
    (tmp_path / "tensorboard" / "old").write_text("old")
    aside = set_aside(tmp_path, plugins=irem_plugins)
    assert aside is not None and not (tmp_path / "tensorboard").exists()
    (tmp_path / "tensorboard").mkdir()
    (tmp_path / "tensorboard" / "new").write_text("new")
    (tmp_path / "metrics.csv").write_text("new")
    put_back(tmp_path, aside, plugins=irem_plugins)
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["old", "tensorboard"]


def test_unknown_logger_and_missing_tensorboard_are_clear_errors(
    run_dir: Path,
    tiny_overrides: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(train_args(run_dir, [*tiny_overrides, 'train.loggers=["wandb"]'], 1)) == 2
    assert (
        "train.loggers: unknown logger 'wandb'; valid names: csv, jsonl, tensorboard"
        in capsys.readouterr().err
    )
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    assert main(train_args(run_dir, [*tiny_overrides, ALL], 1)) == 2
    err = capsys.readouterr().err
    assert "pip install 'irem[tensorboard]'" in err and "Traceback" not in err
    assert not run_dir.exists() or not any(run_dir.iterdir())  # no half-written run


def docs_logger_plugin() -> SimpleNamespace:
    """The third-party logger plugin shown in docs/notes/plugins-guide.md, executed as written."""
    text = (Path(__file__).parents[3] / "docs" / "notes" / "plugins-guide.md").read_text()
    section = text[text.rindex("```python", 0, text.index("class PrintLogger")) :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(code[1], namespace)
    return SimpleNamespace(irem_register_loggers=namespace["irem_register_loggers"])


def test_the_third_party_logger_of_the_docs(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    plugins = build_plugins(
        [*entry_point_sources(), module_plugin(docs_logger_plugin(), "printer")]
    )
    assert (
        main(train_args(run_dir, [*tiny_overrides, 'train.loggers=["print"]'], 2), plugins=plugins)
        == 0
    )
    out = capsys.readouterr().out
    assert "iteration 1: elapsed_s " in out and "iteration 2: " in out
    assert out.count("training ended") == 1
    assert not (run_dir / "metrics.jsonl").exists()
    main(["plugins"], plugins=plugins)
    assert "logger: print" in capsys.readouterr().out
    assert main(["eval", str(run_dir), "-n", "4", "--steps", "2"]) == 0  # needs no logger
    assert main(["train", "--out", str(run_dir), "--resume", "--no-progress"]) == 2
    assert "train.loggers: unknown logger 'print'" in capsys.readouterr().err
