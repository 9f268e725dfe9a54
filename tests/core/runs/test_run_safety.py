"""A run directory is never lost: --force keeps the old run until the new one commits, and
one process at a time writes a directory."""

from __future__ import annotations

import fcntl
import importlib.metadata
import os
import shutil
from pathlib import Path

import pytest
import torch

import irem_core
from irem_core.cli.app import main
from irem_core.runs.checkpoint import load_checkpoint, save_best, save_checkpoint
from tests.cli_args import resume_args, train_args


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in directory.iterdir()
        if path.is_file() and path.name != ".lock"
    }


@pytest.mark.parametrize(
    "failing",
    [
        ["--set", "solver.optimizer.step_size=inf"],  # NaN at the first iteration
        ["--device", "cuda:99"],  # no such device
        ["--set", "train.checkpoint_every=1000", "--set", "solver.optimizer.step_size=1e30"],
    ],
)
def test_a_forced_run_that_fails_leaves_the_old_run_in_place(
    run_dir: Path, tiny_overrides: list[str], failing: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    before = snapshot(run_dir)
    assert main(train_args(run_dir, tiny_overrides, 4, "--force", *failing)) == 2
    assert "error" in capsys.readouterr().err
    assert snapshot(run_dir) == before
    assert not (run_dir / ".replaced").exists()
    assert main(["eval", str(run_dir), "-n", "4", "--steps", "2"]) == 0


def test_a_forced_run_replaces_the_old_one_once_it_commits(
    run_dir: Path, tiny_overrides: list[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    before = snapshot(run_dir)
    assert main(train_args(run_dir, tiny_overrides, 4, "--force", "--seed", "3")) == 0
    after = snapshot(run_dir)
    assert set(after) == set(before) and after["model.safetensors"] != before["model.safetensors"]
    assert not (run_dir / ".replaced").exists()


def test_a_run_set_aside_by_an_interrupted_force_is_never_overwritten(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    (run_dir / ".replaced").mkdir()
    assert main(train_args(run_dir, tiny_overrides, 2, "--force")) == 2
    assert "interrupted --force set aside" in capsys.readouterr().err


def test_a_second_writer_is_refused_with_the_holders_pid(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    before = snapshot(run_dir)
    with open(run_dir / ".lock", "a+") as handle:  # another process's lock, as irem takes it
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.truncate(0)
        handle.write("4242")
        handle.flush()
        # flock locks belong to the open file, so a second open in this process is refused too
        assert main(train_args(run_dir, tiny_overrides, 4, "--resume")) == 2
        assert main(train_args(run_dir, tiny_overrides, 4, "--force")) == 2
    assert "being written by another irem process (PID 4242)" in capsys.readouterr().err
    assert snapshot(run_dir) == before
    assert main(resume_args(run_dir, 3)) == 0  # the lock is free again


@pytest.mark.parametrize(
    "arguments",
    [
        ["eval", "{run}", "-n", "0"],
        ["eval", "{run}", "--split", "bogus"],
        ["nested", "{run}", "-n", "0"],
        ["nested", "{run}", "--split", "bogus"],
        ["nested", "{run}", "--depth", "-3"],
        ["nested", "{run}", "--steps", "-5"],
    ],
)
def test_inputs_that_used_to_be_silently_replaced_are_rejected(
    run_dir: Path,
    tiny_overrides: list[str],
    arguments: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([argument.format(run=run_dir) for argument in arguments])
    assert exit_info.value.code == 2
    assert "error: argument" in capsys.readouterr().err
    assert os.path.exists(run_dir / "model.safetensors")


def test_written_files_follow_the_umask(run_dir: Path, tiny_overrides: list[str]) -> None:
    previous = os.umask(0o022)
    try:
        assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    finally:
        os.umask(previous)
    for name in ("config.json", "model.safetensors", "state.safetensors"):
        assert (run_dir / name).stat().st_mode & 0o777 == 0o644, name


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"irem {irem_core.__version__} (torch ")
    assert irem_core.__version__ == importlib.metadata.version("irem")  # pyproject.toml agrees


def test_sigterm_stops_training_with_143_and_says_how_to_resume(
    run_dir: Path, tiny_overrides: list[str]
) -> None:
    import signal
    import subprocess
    import sys
    import time

    sets = [
        word
        for override in tiny_overrides
        + ["train.iterations=100000", "train.checkpoint_every=1", "train.eval_every=0"]
        for word in ("--set", override)
    ]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "irem_core",
            "train",
            "--task",
            "addition",
            "--out",
            str(run_dir),
            "--no-progress",
            *sets,
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (run_dir / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert "irem train: stopped at iteration" in err and "continue with --resume" in err
    assert "Traceback" not in err
    assert main(["eval", str(run_dir), "-n", "4", "--steps", "2"]) == 0  # the checkpoint is sound


def test_tracebacks_that_became_messages(
    run_dir: Path, tmp_path: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    import torch
    from safetensors.torch import save_file

    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    capsys.readouterr()
    assert main(["nested", str(run_dir), "--strategy", "repeat", "-n", "4", "--steps", "2"]) == 2
    assert "strategy 'repeat' composes an operation of 1 operand(s)" in capsys.readouterr().err
    assert main(resume_args(run_dir, 4, "--set", "task.size=4")) == 2
    assert "--resume cannot change task.size of the run" in capsys.readouterr().err
    empty = tmp_path / "empty.safetensors"
    save_file({"x": torch.zeros(0, 18), "y": torch.zeros(0, 9)}, str(empty))
    assert main(["eval", str(run_dir), "--data", str(empty)]) == 2
    assert "holds no problems" in capsys.readouterr().err
    metrics = run_dir / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + '{"iteration": 3, "lo')  # a kill mid-line
    assert main(resume_args(run_dir, 3)) == 0
    assert "dropped an unreadable line" in capsys.readouterr().err


def test_nested_on_a_graph_run_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "sp"
    sets = [
        "task.max_train_nodes=4",
        "train.batch_size=4",
        "train.replay_batch_size=2",
        "train.steps=2",
        "train.iterations=1",
        "train.eval_every=0",
    ]
    assert (
        main(
            [
                "train",
                "--task",
                "shortest_path",
                "--out",
                str(run),
                "--no-progress",
                *[word for item in sets for word in ("--set", item)],
            ]
        )
        == 0
    )
    assert main(["nested", str(run), "-n", "2", "--steps", "2"]) == 2
    assert "declares no nested strategy" in capsys.readouterr().err
    assert main(["nested", str(run), "--strategy", "fold", "-n", "2", "--steps", "2"]) == 2
    assert "does not support nested reasoning" in capsys.readouterr().err


def test_device_auto_and_the_summary_of_a_resumed_run(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from irem_core.runs.build import resolve_device

    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert main(train_args(run_dir, tiny_overrides, 2, "--device", "auto")) == 0
    assert main(resume_args(run_dir, 3)) == 0
    assert "trained 1 iterations (iteration 3 in all)" in capsys.readouterr().out


def test_irem_data_like_a_run_or_a_preset_fits_the_run(
    run_dir: Path, tmp_path: Path, tiny_overrides: list[str]
) -> None:
    from safetensors.torch import load_file

    assert main(train_args(run_dir, tiny_overrides, 2)) == 0  # a 3x3 run
    like, quick = tmp_path / "like.safetensors", tmp_path / "quick.safetensors"
    assert (
        main(["data", "--like", str(run_dir), "--split", "harder", "-n", "5", "--out", str(like)])
        == 0
    )
    assert load_file(like)["x"].shape == (5, 18)
    assert main(["eval", str(run_dir), "--data", str(like), "--steps", "2"]) == 0
    assert main(["data", "addition", "--preset", "quick", "-n", "2", "--out", str(quick)]) == 0
    assert load_file(quick)["x"].shape == (2, 128)  # the quick preset's 8x8
    assert main(["data", "addition", "--like", str(run_dir), "--out", str(quick)]) == 2


def test_a_long_run_announces_its_duration(
    run_dir: Path,
    tiny_overrides: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from irem_core.training import loop as trainer

    monkeypatch.setattr(trainer, "LONG_RUN_SECONDS", 0.0)
    assert main(train_args(run_dir, tiny_overrides, 5)) == 0
    assert "irem train: about 0 min to iteration 5 at" in capsys.readouterr().err
    monkeypatch.setattr(trainer, "LONG_RUN_SECONDS", 1e9)
    assert main(train_args(run_dir, tiny_overrides, 5, "--force")) == 0
    assert "about" not in capsys.readouterr().err


def test_resuming_a_finished_run_says_it_is_finished(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    before = (run_dir / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert main(train_args(run_dir, tiny_overrides, 2, "--resume")) == 0
    out = capsys.readouterr().out
    assert "nothing to train" in out and "finished at iteration 2" in out and "nan" not in out
    assert (run_dir / "model.safetensors").read_bytes() == before


def test_a_resume_removes_what_interrupted_saves_left(
    run_dir: Path, tiny_overrides: list[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    orphans = [run_dir / ".state.safetensors.x1y2.tmp", run_dir / "model.safetensors.next"]
    for orphan in orphans:
        orphan.write_bytes(b"left by a kill")
    assert main(train_args(run_dir, tiny_overrides, 3, "--resume")) == 0
    assert not any(orphan.exists() for orphan in orphans)


def test_a_whole_section_set_to_a_value_is_a_plain_error(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--task", "addition", "--out", str(run_dir), "--set", "train=3"]) == 2
    assert "train is a table of options, got 3" in capsys.readouterr().err


def test_resume_without_the_runs_plugin_names_the_pip_install(
    run_dir: Path,
    tiny_overrides: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from irem_core.plugins.manager import build_plugins, entry_point_sources

    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    monkeypatch.setenv("IREM_PLUGINS", "optimizers,irem")  # the matrix plugin is missing
    without_matrix = build_plugins(entry_point_sources())
    assert main(train_args(run_dir, tiny_overrides, 3, "--resume"), plugins=without_matrix) == 2
    assert "task 'addition' from plugin 'matrix'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("planted", "loggers"),
    [
        (".lock", "jsonl"),
        ("metrics.jsonl", "jsonl"),
        ("metrics.csv", "csv"),
        ("tensorboard", "tensorboard"),
    ],
)
def test_a_link_planted_in_the_run_directory_is_never_written_through(
    tmp_path: Path,
    tiny_overrides: list[str],
    planted: str,
    loggers: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if loggers == "tensorboard":
        pytest.importorskip("torch.utils.tensorboard")
    victim = tmp_path / "victim"
    if planted == "tensorboard":
        victim.mkdir()
    else:
        victim.write_text("precious")
    run = tmp_path / "run"
    assert main(train_args(run, [*tiny_overrides, f"train.loggers=['{loggers}']"], 2)) == 0
    shutil.rmtree(run / planted) if (run / planted).is_dir() else (run / planted).unlink()
    (run / planted).symlink_to(victim)
    assert main(resume_args(run, 4)) == 2
    assert f"{run / planted} is a symbolic link" in capsys.readouterr().err
    assert (victim.read_text() == "precious") if victim.is_file() else not any(victim.iterdir())


def test_checkpoint_files_replace_a_planted_link_not_its_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    names = ("config.json", "model.safetensors", "model.safetensors.next", "best.safetensors")
    for name in names:
        (run / name).symlink_to(victim)
    weights = {"w": torch.ones(2)}
    record = {"seed": 0}
    save_checkpoint(
        run,
        config=record,
        iteration=1,
        plugins={},
        components={},
        model=weights,
        state={},
        extra={},
    )
    save_best(run, weights, 1, 0.5)
    assert victim.read_text() == "precious"
    assert not any((run / name).is_symlink() for name in names)
    assert load_checkpoint(run).model["w"].tolist() == [1.0, 1.0]


def save_weights(run: Path, value: float) -> None:
    """A checkpoint of one tensor ``w`` filled with ``value`` (as a training save writes it)."""
    save_checkpoint(
        run,
        config={"seed": 0},
        iteration=int(value),
        plugins={},
        components={},
        model={"w": torch.full((2,), value)},
        state={"s": torch.zeros(1)},
        extra={},
    )


def test_a_checkpoint_committed_between_the_reads_of_a_load_is_read_again(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from irem_core.runs import checkpoint

    save_weights(run_dir, 1.0)
    read_record = checkpoint.read_record
    commits = iter([2.0, 3.0])

    def read_then_commit(directory: Path) -> dict:
        record = read_record(directory)
        value = next(commits, None)  # a running 'irem train' commits after this read, twice
        if value is not None:
            save_weights(run_dir, value)
        return record

    monkeypatch.setattr(checkpoint, "read_record", read_then_commit)
    loaded = load_checkpoint(run_dir)
    assert loaded.model["w"].tolist() == [3.0, 3.0] and loaded.iteration == 3


def test_a_damaged_checkpoint_under_a_running_writer_says_it_may_be_a_save(
    run_dir: Path,
) -> None:
    save_weights(run_dir, 1.0)
    (run_dir / "model.safetensors").write_bytes(b"damaged")
    with pytest.raises(irem_core.IremError, match=r"modified or truncated; restore it or retrain$"):
        load_checkpoint(run_dir)
    with open(run_dir / ".lock", "a+") as handle:  # a running 'irem train' holds the lock
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write("4242")
        handle.flush()
        with pytest.raises(
            irem_core.IremError,
            match=r"being written by a running 'irem train' \(PID 4242\), so this may be a save",
        ):
            load_checkpoint(run_dir)


@pytest.mark.parametrize("name", [".lock", "metrics.jsonl", "model.safetensors"])
def test_a_folder_where_a_run_file_belongs_is_named(
    run_dir: Path, tiny_overrides: list[str], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    (run_dir / name).unlink()
    (run_dir / name).mkdir()
    assert main(resume_args(run_dir, 4, "--set", "train.precision=fp32")) == 2
    assert f"{run_dir / name} is a folder, but" in capsys.readouterr().err
