"""Hostile input gives a clear error (exit 2, what is wrong and how to fix it), never a
traceback and never a wrong answer: tampered checkpoints, OS errors on user paths, seeds
out of range, a task plugin that breaks its contract, absurd sizes."""

from __future__ import annotations

import errno
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from irem_core.cli.app import main
from irem_core.plugins.hookspecs import hookimpl
from irem_core.plugins.manager import build_plugins, entry_point_sources, module_plugin
from irem_core.reasoning.protocols import Problems
from irem_plugins.matrix import PAPER_PRESET
from irem_plugins.matrix.tasks import AdditionTask, MatrixConfig
from tests.cli_args import resume_args, train_args

RESUME = ["--resume", "--no-progress", "--set", "train.iterations=3"]


def resume(run: Path) -> list[str]:
    return ["train", "--out", str(run), *RESUME]


def evaluate(run: Path) -> list[str]:
    return ["eval", str(run), "-n", "4", "--steps", "2"]


def edit_record(run: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    path = run / "config.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in data.items() if name != key}


@pytest.mark.parametrize(
    "change, phrase",
    [
        (lambda record: 3, "expected a JSON object, got int"),
        (lambda record: [record], "expected a JSON object, got list"),
        (
            lambda record: {**record, "sha256": without(record["sha256"], "state.safetensors")},
            "sha256 lacks a SHA-256 hex digest for state.safetensors",
        ),
        (
            lambda record: {**record, "components": {"widget:x": "matrix"}},
            "components entry 'widget:x'",
        ),
        (lambda record: {**record, "format": 2}, "format 2 is not 1"),
        (
            lambda record: {**record, "iteration": "2"},
            "iteration '2' is not a non-negative integer",
        ),
        (lambda record: {**record, "config": [1]}, "config is not an object"),
    ],
)
@pytest.mark.parametrize("command", [resume, evaluate])
def test_a_tampered_config_json_is_refused(
    run: Path,
    change: Callable[[dict[str, Any]], Any],
    phrase: str,
    command: Callable[[Path], list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    edit_record(run, change)
    assert main(command(run)) == 2
    err = capsys.readouterr().err
    assert phrase in err and "is not a valid irem checkpoint record" in err


@pytest.mark.parametrize(
    "change, phrase",
    [
        (
            lambda training: without(training, "optimizer_param_groups"),
            "optimizer_param_groups in config.json lacks fields",
        ),
        (
            lambda training: {**training, "optimizer_param_groups": [{"params": [0]}]},
            "optimizer_param_groups in config.json lacks fields",
        ),
        (lambda training: without(training, "replay_cursors"), "training.replay_cursors"),
        (
            lambda training: {**training, "replay_cursors": [1, 2, 3]},
            "not a list of 1 non-negative integers",
        ),
        (lambda training: {**training, "replay_cursors": [[1]]}, "training.replay_cursors"),
    ],
)
def test_tampered_training_fields_are_refused_on_resume(
    run: Path,
    change: Callable[[dict[str, Any]], Any],
    phrase: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    edit_record(run, lambda record: {**record, "training": change(record["training"])})
    assert main(resume(run)) == 2
    assert phrase in capsys.readouterr().err


def rewrite_tensors(
    run: Path, name: str, change: Callable[[str, torch.Tensor], torch.Tensor]
) -> None:
    """Change the tensors of ``name`` and record their new hash, as a careful forger would."""
    tensors = {key: change(key, value).contiguous() for key, value in load_file(run / name).items()}
    save_file(tensors, str(run / name))
    digest = hashlib.sha256((run / name).read_bytes()).hexdigest()
    edit_record(run, lambda record: {**record, "sha256": {**record["sha256"], name: digest}})


@pytest.mark.parametrize("command", [resume, evaluate])
def test_weights_of_another_dtype_are_refused_not_cast(
    run: Path, command: Callable[[Path], list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite_tensors(run, "model.safetensors", lambda key, tensor: tensor.double())
    assert main(command(run)) == 2
    assert "torch.float64, expected" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, phrase",
    [
        (
            lambda key, t: t.long() if key.endswith("generator") else t,
            "shard.0.generator is (5056,) torch.int64",
        ),
        (lambda key, t: t[:10] if key.endswith("generator") else t, "shard.0.generator is (10,)"),
        (
            lambda key, t: t.flatten()[:3] if key == "optimizer.0.exp_avg" else t,
            "optimizer.0.exp_avg is (3,) torch.float32",
        ),
        (
            lambda key, t: t.double() if key == "optimizer.0.exp_avg_sq" else t,
            "optimizer.0.exp_avg_sq is (16, 9) torch.float64",
        ),
        (lambda key, t: t.long() if key.endswith("replay.y") else t, "the replay ring of shard 0"),
        (lambda key, t: t[:, :2] if key.endswith("replay.x") else t, "the replay ring of shard 0"),
    ],
)
def test_training_state_of_another_dtype_or_shape_is_refused(
    run: Path,
    change: Callable[[str, torch.Tensor], torch.Tensor],
    phrase: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rewrite_tensors(run, "state.safetensors", change)
    assert main(resume(run)) == 2
    assert phrase in capsys.readouterr().err


@pytest.mark.parametrize(
    "target, phrase",
    [
        ("file/run", "Not a directory"),
        ("x" * 300, "File name too long; a name in the path is too long"),
    ],
)
def test_os_errors_on_written_paths_name_the_path_and_exit_2(
    tmp_path: Path,
    tiny_overrides: list[str],
    target: str,
    phrase: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / target
    assert main(train_args(out, tiny_overrides, 2)) == 2
    assert main(["data", "addition", "--set", "task.size=3", "-n", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count(f"cannot use {out}") == 2 and phrase.split(";")[0] in err


def test_an_existing_folder_or_file_where_the_other_is_needed(
    tmp_path: Path, trained: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    assert main(train_args(tmp_path / "file", tiny_overrides, 2)) == 2
    assert "a file stands where a folder is needed" in capsys.readouterr().err
    assert main(["data", "addition", "-n", "2", "--out", str(tmp_path)]) == 2
    assert "Is a directory" in capsys.readouterr().err
    assert main(["eval", str(trained), "--data", str(tmp_path)]) == 2
    assert f"cannot use {tmp_path}: Is a directory" in capsys.readouterr().err


def test_irem_data_never_overwrites_a_file_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights that took hours")
    args = ["data", "addition", "--set", "task.size=3", "-n", "2", "--out", str(weights)]
    assert main(args) == 2
    assert f"{weights} already exists; choose another --out, or pass --force" in (
        capsys.readouterr().err
    )
    assert weights.read_bytes() == b"weights that took hours"
    assert main([*args, "--force"]) == 0
    assert weights.read_bytes() != b"weights that took hours"


def test_a_data_file_that_is_not_safetensors_says_how_to_write_it_again(
    tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "problems.safetensors"
    garbage.write_bytes(b"not a tensor file at all")
    assert main(["eval", str(trained), "--data", str(garbage)]) == 2
    err = capsys.readouterr().err
    assert "is not a valid safetensors file" in err
    assert "write it again with 'irem data --like RUN'" in err and "retrain" not in err


def test_a_full_disk_is_an_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from irem_core.runs import checkpoint

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", full)
    out = tmp_path / "problems.safetensors"
    assert main(["data", "addition", "--set", "task.size=3", "-n", "2", "--out", str(out)]) == 2
    assert f"cannot use {out}: No space left on device; the disk is full" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


@pytest.mark.parametrize("seed", ["-1", str(2**64), str(2**64 + 5)])
def test_seeds_outside_64_bits_are_refused(
    trained: Path,
    tmp_path: Path,
    seed: str,
    tiny_overrides: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (
        train_args(tmp_path / "run", tiny_overrides, 2, "--seed", seed),
        ["eval", str(trained), "-n", "2", "--seed", seed],
        ["nested", str(trained), "-n", "2", "--seed", seed],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert "expected an integer from 0 to 2**64 - 1" in capsys.readouterr().err
    assert main(train_args(tmp_path / "run", tiny_overrides, 2, "--set", f"seed={seed}")) == 2
    assert "seed: must be an integer from 0 to 2**64 - 1" in capsys.readouterr().err


def test_seeds_use_all_64_bits(tiny_config: Any) -> None:
    from irem_core.runs.build import build_solver, build_task
    from irem_core.seeding import init_seed

    task = build_task(tiny_config.task)

    def weights(seed: int) -> torch.Tensor:
        solver = build_solver(tiny_config.solver, task, seed)
        return torch.cat([parameter.flatten() for parameter in solver.parameters()])

    assert init_seed(7) == 7  # the initialisation of seeds below 2**32 is unchanged
    assert not torch.equal(weights(7), weights(7 + 2**32))
    assert not torch.equal(weights(2**63 + 7), weights(2**63 + 7 + 2**32))


class BrokenTask(AdditionTask):
    """Addition whose ``sample`` breaks the contract as its name says."""

    breakage = ""

    def sample(self, split: str, num_problems: int, generator: torch.Generator) -> Problems:
        problems = super().sample(split, num_problems, generator)
        if self.breakage == "shape":
            return Problems(
                problems.inputs, problems.target[:, :2], problems.row_problem, problems.num_problems
            )
        if self.breakage == "dtype":
            return Problems(
                problems.inputs, problems.target.long(), problems.row_problem, problems.num_problems
            )
        return super().sample(split, max(num_problems - 1, 1), generator)  # "fewer"


def broken(breakage: str) -> Callable[[MatrixConfig], BrokenTask]:
    def factory(options: MatrixConfig) -> BrokenTask:
        task = BrokenTask(options)
        task.breakage = breakage
        return task

    return factory


@hookimpl
def irem_register_tasks(register: Any) -> None:
    for breakage in ("shape", "dtype", "fewer"):
        register(
            f"broken_{breakage}",
            broken(breakage),
            config=MatrixConfig,
            domain="vector",
            presets={"paper": PAPER_PRESET},
        )


@pytest.mark.parametrize(
    "breakage, phrase",
    [
        ("shape", "targets of shape (8, 2) torch.float32; expected (rows, 9) floating point"),
        ("dtype", "targets of shape (8, 9) torch.int64; expected (rows, 9) floating point"),
        ("fewer", "7 problems when asked for 8"),
    ],
)
def test_a_task_that_samples_the_wrong_problems_is_a_plugin_error(
    tmp_path: Path,
    tiny_overrides: list[str],
    breakage: str,
    phrase: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plugins = build_plugins(
        entry_point_sources() + [module_plugin(sys.modules[__name__], "broken_tasks")]
    )
    sets = [
        word for override in tiny_overrides + ["train.iterations=1"] for word in ("--set", override)
    ]
    code = main(
        [
            "train",
            "--task",
            f"broken_{breakage}",
            "--solver",
            "irem",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
            *sets,
        ],
        plugins=plugins,
    )
    data = main(
        [
            "data",
            f"broken_{breakage}",
            "--set",
            "task.size=3",
            "-n",
            "8",
            "--out",
            str(tmp_path / "data.safetensors"),
        ],
        plugins=plugins,
    )
    assert (code, data) == (2, 2)
    err = capsys.readouterr().err
    assert f"task 'broken_{breakage}' (plugin broken_tasks) broke the task contract" in err
    assert err.count(phrase) == 2
    assert not (tmp_path / "data.safetensors").exists()


@pytest.mark.parametrize(
    "override, phrase",
    [
        ("task.size=10000", "lower the model's width (e.g. solver.energy.hidden) or task.size"),
        ("solver.energy.hidden=1000000", "lower the model's width"),
        ("train.batch_size=1000000000", "lower train.batch_size"),
        ("train.replay_capacity=1000000000000", "lower train.replay_capacity"),
    ],
)
def test_absurd_training_sizes_are_refused_before_allocating(
    run: Path,
    tiny_overrides: list[str],
    override: str,
    phrase: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def files() -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in run.iterdir() if path.name != ".lock"}

    before = files()
    assert main(train_args(run, tiny_overrides, 2, "--force", "--set", override)) == 2
    err = capsys.readouterr().err
    assert "this run needs at least" in err and "GB of memory" in err and phrase in err
    assert files() == before


@pytest.mark.parametrize(
    "arguments, phrase",
    [
        (["eval", "{run}", "-n", "100000000000"], "(problem set 10,800.0 GB) but"),
        (["eval", "{run}", "--steps", "100000000"], "recorded iterates"),
        (["nested", "{run}", "--depth", "100000000"], "lower --depth or -n"),
        (["nested", "{run}", "--steps", "1000000000", "-n", "100000"], "lower --steps or -n"),
        (["data", "addition", "-n", "100000000000", "--out", "{run}/big.safetensors"], "lower -n"),
    ],
)
def test_absurd_counts_and_budgets_are_refused_before_allocating(
    trained: Path, arguments: list[str], phrase: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([argument.format(run=trained) for argument in arguments]) == 2
    err = capsys.readouterr().err
    assert "needs at least" in err and phrase in err


def test_ignored_inputs_of_irem_data_and_eval_are_rejected(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "problems.safetensors"
    assert main(["data", "addition", "--set", "task.name=inverse", "--out", str(out)]) == 2
    assert "--set task.name does not choose the task of irem data" in capsys.readouterr().err
    save_file(
        {"x": torch.zeros(2, 18), "y": torch.zeros(2, 9), "mask": torch.zeros(2, 9)}, str(out)
    )
    assert main(["eval", str(trained), "--data", str(out), "--steps", "2"]) == 2
    assert "problem file holds tensor(s) mask that a AdditionTask file" in capsys.readouterr().err


DEEP = 100_000


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("utf16.toml", "[train]\niterations = 3\n".encode("utf-16"), "is not UTF-8 text (byte 0"),
        ("binary.json", bytes(range(256)), "is not UTF-8 text (byte 128"),
        ("deep.toml", ("a = " + "[" * DEEP + "]" * DEEP).encode(), "nests tables or lists deeper"),
        ("deep.json", ("[" * DEEP + "]" * DEEP).encode(), "nests tables or lists deeper"),
        ("deep_table.json", ('{"a":' * 70 + "1" + "}" * 70).encode(), "deeper than 64 levels"),
    ],
)
def test_hostile_config_files_exit_2_naming_the_file(
    tmp_path: Path, name: str, content: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / name
    config.write_bytes(content)
    args = ["train", "--task", "addition", "--config", str(config), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{config} " in err and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_a_deeply_nested_set_value_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = "[" * DEEP + "]" * DEEP
    args = ["train", "--task", "addition", "--set", f"task.size={value}", "--out", str(tmp_path)]
    assert main(args) == 2
    assert "--set task.size nests tables or lists deeper" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"\xff\xfe not json", ("[" * DEEP + "]" * DEEP).encode()])
def test_a_hostile_config_json_of_a_run_exits_2(
    run: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    (run / "config.json").write_bytes(content)
    assert main(["eval", str(run), "-n", "4", "--steps", "2"]) == 2
    assert f"{run / 'config.json'} is not valid JSON" in capsys.readouterr().err


def test_non_utf8_bytes_in_metrics_cost_their_line_not_the_resume(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = run / "metrics.jsonl"
    lines = metrics.read_bytes().splitlines(keepends=True)
    metrics.write_bytes(lines[0] + b'{"iteration": 1, "loss": \xff\xfe}\n' + b"".join(lines[1:]))
    assert main(resume_args(run, 3, "--set", "train.precision=fp32")) == 0
    assert "dropped an unreadable line" in capsys.readouterr().err
    text = metrics.read_text()  # UTF-8 again, every readable line kept
    assert [json.loads(line)["iteration"] for line in text.splitlines()][-1] == 3


def test_a_data_file_that_is_a_device_is_refused_before_reading(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(run), "--data", "/dev/zero"]) == 2
    assert "/dev/zero is not a regular file (a device or a pipe?)" in capsys.readouterr().err
