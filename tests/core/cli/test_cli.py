"""The CLI end to end on CPU: train, checkpoint, resume, eval, data, plugins, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from irem_core.cli.app import main
from tests.cli_args import resume_args, train_args


def test_train_eval_and_json_report(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 4)) == 0
    assert {"config.json", "model.safetensors", "state.safetensors", "metrics.jsonl"} <= {
        p.name for p in run_dir.iterdir()
    }
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [line["iteration"] for line in lines] == [1, 2, 3, 4]
    assert "eval_same_mse" in lines[1] and "min_energy" in lines[1]["eval_same_mse"]
    capsys.readouterr()
    assert (
        main(["eval", str(run_dir), "--split", "harder", "--steps", "1,3", "-n", "10", "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["task"], report["split"], report["n"]) == ("addition", "harder", 10)
    assert set(report["mse"]) == {"1", "3", "min_energy"}
    assert all(value >= 0 for value in report["mse"].values())


@pytest.mark.parametrize(
    "optimizer",
    [[], ["solver.optimizer.name=langevin", "solver.optimizer.noise=0.5"]],
    ids=["gd", "langevin"],
)
def test_resume_continues_bit_identically(
    tmp_path: Path, tiny_overrides: list[str], optimizer: list[str]
) -> None:
    """Langevin's noise comes from the checkpointed shard generator, so it resumes too."""
    tiny_overrides = tiny_overrides + optimizer
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    assert main(train_args(straight, tiny_overrides, 6)) == 0
    assert main(train_args(halves, tiny_overrides, 3)) == 0
    assert main(resume_args(halves, 6)) == 0
    expected, resumed = (
        load_file(straight / "model.safetensors"),
        load_file(halves / "model.safetensors"),
    )
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[name], resumed[name]) for name in expected)
    lines = (halves / "metrics.jsonl").read_text().splitlines()
    iterations = [json.loads(line)["iteration"] for line in lines]
    assert iterations == [1, 2, 3, 4, 5, 6]


def test_refuses_to_overwrite_a_run_without_force(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    before = (run_dir / "model.safetensors").read_bytes()
    assert main(train_args(run_dir, tiny_overrides, 2)) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (run_dir / "model.safetensors").read_bytes() == before
    assert main(train_args(run_dir, tiny_overrides, 2, "--force", "--seed", "5")) == 0
    assert (run_dir / "model.safetensors").read_bytes() != before


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--seed", "7"], "--seed 7 differs from the run's 0"),
        (["--task", "inverse"], "--task inverse differs from the run's 'addition'"),
        (["--config", "c.toml"], "--config does not apply with --resume"),
    ],
)
def test_resume_refuses_arguments_it_would_ignore(
    run_dir: Path,
    tiny_overrides: list[str],
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    before = (run_dir / "model.safetensors").read_bytes()
    resume = ["train", "--out", str(run_dir), "--resume", "--no-progress", *extra]
    assert main(resume) == 2
    assert message in capsys.readouterr().err
    assert (run_dir / "model.safetensors").read_bytes() == before
    assert main([*resume[:5], "--task", "addition", "--set", "train.iterations=3"]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--task", "additon", "--out", "{tmp}/r"], "valid names: addition"),
        (
            ["train", "--task", "addition", "--set", "train.iters=3", "--out", "{tmp}/r"],
            "unknown key(s) iters",
        ),
        (
            ["train", "--task", "addition", "--set", "train.lr=fast", "--out", "{tmp}/r"],
            "expected float",
        ),
        (
            ["train", "--config", "{tmp}/missing.toml", "--out", "{tmp}/r"],
            "cannot read config file",
        ),
        (["train", "--out", "{tmp}/r", "--resume"], "holds no checkpoint"),
        (["eval", "{tmp}/nothing"], "config.json is missing"),
        (
            ["data", "addition", "--split", "hardest", "--out", "{tmp}/d.safetensors"],
            "valid splits",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([arg.replace("{tmp}", str(tmp_path)) for arg in args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("bad.toml", "train = {iterations = \n", "is not valid TOML"),
        ("bad.json", '{"task": {"name": "addition",}', "is not valid JSON"),
        (
            "unknown.toml",
            '[task]\nname = "addition"\ncolour = 3\n',
            "task: unknown key(s) colour; valid keys: size",
        ),
        (
            "wrongtype.toml",
            '[task]\nname = "addition"\n[train]\niterations = "many"\n',
            "train.iterations: expected int, got str 'many'",
        ),
        (
            "solver.toml",
            '[task]\nname = "addition"\n[solver]\nname = "irme"\n',
            "unknown solver 'irme'; valid names: feedforward, ired, irem, iterative",
        ),
        (
            "optimizer.toml",
            '[task]\nname = "addition"\n[solver]\nname = "irem"\n'
            '[solver.energy]\nname = "mlp"\n[solver.optimizer]\nname = "adamw"\n',
            "unknown optimizer 'adamw'; valid names: gd, langevin, linesearch, momentum",
        ),
    ],
)
def test_bad_config_files_exit_2_naming_the_problem(
    tmp_path: Path, name: str, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / name).write_text(text)
    assert main(["train", "--config", str(tmp_path / name), "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_data_file_missing_tensors_is_bad_input(
    tmp_path: Path, run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "partial.safetensors"
    save_file({"x": torch.zeros(3, 18)}, data)
    assert main(train_args(run_dir, tiny_overrides, 1)) == 0
    assert main(["eval", str(run_dir), "--data", str(data)]) == 2
    assert "lacks tensor(s) y" in capsys.readouterr().err


def test_data_files_are_seeded_and_evaluable(
    tmp_path: Path, run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    for path in (first, second):
        assert (
            main(
                [
                    "data",
                    "addition",
                    "--split",
                    "harder",
                    "-n",
                    "6",
                    "--seed",
                    "9",
                    "--set",
                    "task.size=3",
                    "--out",
                    str(path),
                ]
            )
            == 0
        )
    tensors = load_file(first)
    assert tensors["x"].shape == (6, 18) and tensors["y"].shape == (6, 9)
    assert first.read_bytes() == second.read_bytes()
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--data", str(first), "--steps", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 6


def test_eval_data_with_wrong_shapes_is_bad_input(
    tmp_path: Path, run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "big.safetensors"
    assert main(["data", "addition", "-n", "2", "--set", "task.size=4", "--out", str(data)]) == 0
    assert main(train_args(run_dir, tiny_overrides, 1)) == 0
    assert main(["eval", str(run_dir), "--data", str(data)]) == 2
    assert "set task.size to match" in capsys.readouterr().err


def test_plugins_lists_builtins_and_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0  # no broken plugin installed
    report = json.loads(capsys.readouterr().out)
    plugins = {plugin["name"]: plugin for plugin in report["plugins"]}
    assert plugins["matrix"]["status"] == "active"
    assert plugins["matrix"]["registers"]["task"] == ["addition", "completion", "inverse"]
    assert plugins["optimizers"]["registers"]["optimizer"] == [
        "gd",
        "langevin",
        "linesearch",
        "momentum",
    ]
    assert report["environment"]
    assert main(["plugins"]) == 0
    assert "Python environment:" in capsys.readouterr().out


def test_nan_loss_stops_training_naming_the_iteration(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = train_args(
        run_dir,
        tiny_overrides,
        6,
        "--set",
        "solver.optimizer.step_size=1e30",
        "--set",
        "train.lr=1e30",
    )
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "NaN/Inf at iteration" in error and "step size" in error


def test_eval_excludes_and_counts_non_finite_problems(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                str(run_dir),
                "--steps",
                "10",
                "-n",
                "5",
                "--json",
                "--set",
                "solver.optimizer.step_size=1e38",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["nonfinite_problems"] == 5
    assert report["mse"] == {"10": None, "min_energy": None}  # not a misleading 0
    assert (
        main(
            [
                "eval",
                str(run_dir),
                "--steps",
                "10",
                "-n",
                "5",
                "--set",
                "solver.optimizer.step_size=1e38",
            ]
        )
        == 0
    )
    assert "5 problems gave NaN/Inf and are excluded" in capsys.readouterr().out


def test_eval_with_halting_reports_steps_and_evaluations(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                str(run_dir),
                "--steps",
                "5,30",
                "-n",
                "12",
                "--halt",
                "gradient",
                "--halt-tolerance",
                "1e9",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["steps_used"] == {"mean": 30.0, "p50": 30.0, "p95": 30.0}
    assert report["energy_evaluations"] == 12 * 31
    halting = report["halting"]
    assert halting["steps_used"]["p95"] == 0.0  # a huge tolerance halts at once
    assert halting["energy_evaluations"] == 12 * 2  # one check + the final energy
    assert halting["mse"]["30"] == pytest.approx(halting["mse"]["5"])


@pytest.mark.parametrize(("window", "stops_at"), [([], 8), (["--halt-window", "3"], 3)])
def test_eval_halting_by_energy_uses_the_rules_window_unless_given(
    run_dir: Path,
    tiny_overrides: list[str],
    capsys: pytest.CaptureFixture[str],
    window: list[str],
    stops_at: int,
) -> None:
    """A run saved with 0.2.0's window (1) still halts by the energy rule's own window: with a
    huge tolerance every problem stops as soon as the window allows."""
    overrides = [*tiny_overrides, "solver.optimizer.halt_window=1"]
    assert main(train_args(run_dir, overrides, 2)) == 0
    capsys.readouterr()
    arguments = ["eval", str(run_dir), "--steps", "30", "-n", "6", "--halt", "energy"]
    assert main([*arguments, "--halt-tolerance", "1e9", *window, "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["halting"]["steps_used"]
    assert steps == {"mean": stops_at, "p50": stops_at, "p95": stops_at}


def test_eval_can_swap_the_optimizer(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides, 2)) == 0
    reports = []
    for optimizer in ("gd", "momentum", "linesearch", "langevin"):
        capsys.readouterr()
        assert (
            main(
                [
                    "eval",
                    str(run_dir),
                    "--steps",
                    "4",
                    "-n",
                    "8",
                    "--json",
                    "--set",
                    f"solver.optimizer.name={optimizer}",
                    "--set",
                    "solver.optimizer.step_size=1000.0",
                ]
            )
            == 0
        )
        reports.append(json.loads(capsys.readouterr().out)["mse"]["4"])
    assert len({reports[0], reports[1], reports[3]}) == 3  # gd, momentum, langevin differ
    assert main(["eval", str(run_dir), "--set", "solver.optimizer.name=adam"]) == 2


@pytest.mark.parametrize(("trained", "evaluated"), [("momentum", "gd"), ("gd", "momentum")])
def test_a_swapped_optimizer_gets_its_own_defaults_and_the_options_set_with_it(
    run_dir: Path,
    tiny_overrides: list[str],
    capsys: pytest.CaptureFixture[str],
    trained: str,
    evaluated: str,
) -> None:
    assert (
        main(
            train_args(
                run_dir,
                tiny_overrides
                + [f"solver.optimizer.name={trained}", "solver.optimizer.step_size=7.0"],
                2,
            )
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                str(run_dir),
                "--steps",
                "2",
                "-n",
                "4",
                "--json",
                "--set",
                f"solver.optimizer.name={evaluated}",
                "--set",
                "solver.optimizer.halt_window=3",
            ]
        )
        == 0
    )
    optimizer = json.loads(capsys.readouterr().out)["solver_config"]["optimizer"]
    assert optimizer["name"] == evaluated
    assert optimizer["step_size"] == 100.0  # the new optimizer's default, not the trained 7
    assert optimizer["halt_window"] == 3  # set alongside the name: kept
    assert ("momentum" in optimizer) == (evaluated == "momentum")
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                str(run_dir),
                "--steps",
                "2",
                "-n",
                "4",
                "--set",
                f"solver.optimizer.name={evaluated}",
            ]
        )
        == 0
    )
    assert f'"name": "{evaluated}"' in capsys.readouterr().out.splitlines()[0]


def test_scratchpad_memory_trains_and_answers_keep_their_shape(
    run_dir: Path, tiny_overrides: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(run_dir, tiny_overrides + ["solver.energy.memory=5"], 3)) == 0
    weights = load_file(run_dir / "model.safetensors")
    assert weights["energy_model.answer_layer.weight"].shape == (16, 9 + 5)
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--steps", "3", "-n", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mse"]["3"] > 0
