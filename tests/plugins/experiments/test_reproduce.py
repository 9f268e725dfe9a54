"""``irem reproduce``: well-formed results, fixed problem sets, and resuming a reproduction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from irem_core.cli.app import main
from irem_core.errors import IremError, NonFiniteError
from irem_core.training.loop import Trainer
from irem_plugins.experiments import runs as runs_module
from irem_plugins.experiments.protocol import RunKey, chosen_rate, parse_scoped_override
from irem_plugins.experiments.reproduce import reproduce

TASKS = ["addition", "shortest_path"]
SOLVERS = ["irem", "feedforward", "ponder"]
TINY = [
    "train.iterations=2",
    "train.batch_size=8",
    "train.replay_batch_size=4",
    "train.replay_capacity=16",
    "train.steps=2",
    "train.eval_every=0",
    "train.log_every=1",
    "train.checkpoint_every=1",
    "eval.problems=6",
    "eval.batch_size=6",
    "eval.steps=[1,3]",
    "addition:task.size=3",
    "shortest_path:task.max_train_nodes=4",
    "shortest_path:task.same_nodes=4",
    "shortest_path:task.harder_nodes=5",
    "irem:solver.energy.hidden=8",
    "feedforward:solver.hidden=8",
    "ponder:solver.hidden=8",
]
"""Scoped overrides that make each run take well under a second."""


def cli_args(out: Path, tasks: list[str], solvers: list[str], overrides: list[str]) -> list[str]:
    sets = [arg for override in overrides for arg in ("--set", override)]
    return [
        "reproduce",
        "--preset",
        "quick",
        "--tasks",
        ",".join(tasks),
        "--solvers",
        ",".join(solvers),
        "--out",
        str(out),
        "--sizes",
        "3,5",
        "--jobs",
        "1",
        "--no-progress",
        *sets,
    ]


def strict_json(path: Path) -> dict:
    def reject(constant: str) -> None:
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=reject)


def model_times(out: Path) -> dict[str, int]:
    return {
        str(path.relative_to(out)): path.stat().st_mtime_ns
        for path in sorted(out.glob("runs/*/*/seed-*/model.safetensors"))
    }


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reproduction")
    assert main(cli_args(out, TASKS, SOLVERS, TINY)) == 0
    return out


def test_results_json_is_well_formed(reproduction: Path) -> None:
    results = strict_json(reproduction / "results.json")
    assert (results["tasks"], results["solvers"], results["splits"]) == (
        TASKS,
        SOLVERS,
        ["same", "harder"],
    )
    assert results["sizes"] == {"addition": [], "shortest_path": [3, 5]}
    for task in TASKS:
        for solver in SOLVERS:
            run = results["runs"][task][solver]
            assert run["train"]["iterations"] == 2
            for split in results["splits"]:
                evaluation = run["splits"][split]
                assert set(evaluation["mse"]) == {"1", "3", "min_energy"}
                assert len(evaluation["curve"]) == 4 and evaluation["num_problems"] == 6
                assert all(value >= 0 for value in evaluation["mse"].values())
    assert set(results["runs"]["shortest_path"]["irem"]["sizes"]) == {"3", "5"}
    for solver in SOLVERS:
        nested = results["runs"]["addition"][solver]["nested"]
        assert (nested["strategy"], nested["problems"], nested["steps"]) == ("fold", 6, 3)
        assert len(nested["mse"]) == 10 and all(error >= 0 for error in nested["mse"])
        assert "nested" not in results["runs"]["shortest_path"][solver]
    assert results["paper"]["results"]["feedforward"]["addition"] == {
        "same": 0.0448,
        "harder": 0.7029,
    }


def test_results_md_puts_the_paper_beside_ours(reproduction: Path) -> None:
    lines = (reproduction / "results.md").read_text().splitlines()
    header = (
        "| solver | addition same | addition harder | shortest_path same | shortest_path harder |"
    )
    assert header in lines
    feedforward = next(line for line in lines if line.startswith("| feedforward |"))
    assert "(0.0448)" in feedforward and "(0.7029)" in feedforward
    assert any(line.startswith("| zero predictor |") for line in lines)
    assert sum(line.startswith("| solver | n=3 | n=5 |") for line in lines) == 2
    assert any(line.startswith("| mean predictor |") for line in lines)
    after = lines.index("The same after 1 / 3 steps (IREM: its iterate, not the min-energy one):")
    per_budget = next(line for line in lines[after:] if line.startswith("| irem |"))
    assert [len(cell.split(" / ")) for cell in per_budget.strip("| ").split(" | ")[1:]] == [2, 2]
    assert "| solver | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 |" in lines
    irem_nested = next(line for line in lines if line.startswith("| irem |") and "(0.0100)" in line)
    assert irem_nested.count(" | ") == 10 and "(0.0400)" in irem_nested
    for name in [
        "error_vs_steps_addition.png",
        "error_vs_steps_shortest_path.png",
        "size_curve_shortest_path.png",
        "nested_addition.png",
    ]:
        assert (reproduction / name).stat().st_size > 0


def test_problem_sets_are_what_irem_data_writes(reproduction: Path, tmp_path: Path) -> None:
    seed = strict_json(reproduction / "results.json")["seed"]
    path = tmp_path / "harder.safetensors"
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
                str(seed),
                "--set",
                "task.size=3",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    ours, theirs = load_file(reproduction / "data" / "addition-harder.safetensors"), load_file(path)
    assert ours.keys() == theirs.keys()
    assert all((ours[key] == theirs[key]).all() for key in ours)


def test_a_rerun_reuses_finished_runs_and_evaluates_unfinished_ones(reproduction: Path) -> None:
    before = model_times(reproduction)
    unfinished = RunKey("shortest_path", "ponder")
    (unfinished.directory(reproduction, 0) / "evaluation.json").unlink()
    older = RunKey("addition", "feedforward").directory(reproduction, 0) / "evaluation.json"
    record = json.loads(older.read_text())
    del record["config"]["solver"]["layers"]  # a run from before an option with a default existed
    older.write_text(json.dumps(record))
    summary = reproduce(
        reproduction,
        tasks=TASKS,
        solvers=SOLVERS,
        overrides=TINY,
        sizes=[3, 5],
        jobs=1,
        progress=False,
    )
    assert summary.trained == [(unfinished, 0)] and len(summary.reused) == 5
    assert model_times(reproduction) == before
    assert strict_json(reproduction / "results.json")["reused_runs"] == 5


def test_parallel_jobs_give_the_same_results(reproduction: Path, tmp_path: Path) -> None:
    reproduce(
        tmp_path,
        tasks=["addition"],
        solvers=["irem", "feedforward"],
        overrides=TINY,
        sizes=[],
        jobs=2,
        progress=False,
    )
    parallel = strict_json(tmp_path / "results.json")["runs"]["addition"]
    serial = strict_json(reproduction / "results.json")["runs"]["addition"]
    for solver in ["irem", "feedforward"]:
        for split in ["same", "harder"]:
            assert parallel[solver]["splits"][split]["curve"] == pytest.approx(
                serial[solver]["splits"][split]["curve"], rel=1e-5
            )
        assert parallel[solver]["nested"]["mse"] == pytest.approx(
            serial[solver]["nested"]["mse"], rel=1e-5
        )


def test_a_changed_config_is_refused(reproduction: Path) -> None:
    with pytest.raises(IremError, match=r"train\.iterations \(2 there, 3 now\)"):
        reproduce(
            reproduction,
            tasks=TASKS,
            solvers=SOLVERS,
            sizes=[3, 5],
            jobs=1,
            progress=False,
            overrides=TINY + ["train.iterations=3"],
        )


def test_other_evaluation_settings_evaluate_again_without_training(tmp_path: Path) -> None:
    """``eval`` settings do not change training: sweep and full runs are reused as trained,
    validated and evaluated again at the new budgets."""
    selection = dict(tasks=["addition"], solvers=["irem", "feedforward"], sizes=[], jobs=1)
    reproduce(tmp_path, overrides=TINY, progress=False, **selection)
    models = sorted(tmp_path.glob("*/addition/*/*/model.safetensors"))
    before = [path.stat().st_mtime_ns for path in models]
    reproduce(tmp_path, overrides=TINY + ["eval.steps=[1,2,3]"], progress=False, **selection)
    assert len(models) == 8 and [path.stat().st_mtime_ns for path in models] == before
    runs = strict_json(tmp_path / "results.json")["runs"]["addition"]
    assert all(
        set(run["splits"]["same"]["mse"]) == {"1", "2", "3", "min_energy"} for run in runs.values()
    )
    for path in (tmp_path / "sweep").rglob("validation.json"):
        assert json.loads(path.read_text())["config"]["eval"]["steps"] == [1, 2, 3]


def test_test_time_changes_evaluate_again_without_training(tmp_path: Path) -> None:
    """``--eval-set`` changes how the trained full runs reason, not how anything trains or
    validates: the runs are reused, the sweep is not validated again, and only the scoped
    solver's record carries the change."""
    selection = dict(tasks=["addition"], solvers=["irem", "feedforward"], sizes=[], jobs=1)
    reproduce(tmp_path, overrides=TINY, progress=False, **selection)
    models = sorted(tmp_path.glob("*/addition/*/*/model.safetensors"))
    validations = sorted(tmp_path.glob("sweep/**/validation.json"))
    before = [path.stat().st_mtime_ns for path in models + validations]
    change = "irem:solver.optimizer.name=linesearch"
    reproduce(tmp_path, overrides=TINY, eval_overrides=[change], progress=False, **selection)
    assert [path.stat().st_mtime_ns for path in models + validations] == before
    results = strict_json(tmp_path / "results.json")
    runs = results["runs"]["addition"]
    assert runs["irem"]["eval_overrides"] == ["solver.optimizer.name=linesearch"]
    assert runs["irem"]["config"]["solver"]["optimizer"]["name"] == "gd"
    assert runs["feedforward"]["eval_overrides"] == []
    assert results["eval_overrides"] == [change]
    assert f"--eval-set {change}" in results["command"]
    assert f"`{change}` (`--eval-set`)" in (tmp_path / "results.md").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("irem:train.lr=1", "takes solver.* fields"),
        ("irem:solver.optimizer.name=no_such_optimizer", "does not fit the irem runs"),
        ("iremm:solver.optimizer.name=linesearch", "iremm name no installed task or solver"),
    ],
)
def test_bad_test_time_changes_are_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str
) -> None:
    args = cli_args(tmp_path, ["addition"], ["irem"], TINY) + ["--eval-set", change]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_an_interrupted_training_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step = Trainer.step

    def interrupted(self: Trainer):
        if self.iteration == 1:
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(Trainer, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reproduce(
            tmp_path,
            tasks=["addition"],
            solvers=["feedforward"],
            overrides=TINY,
            jobs=1,
            progress=False,
        )
    monkeypatch.setattr(Trainer, "step", step)
    reproduce(
        tmp_path,
        tasks=["addition"],
        solvers=["feedforward"],
        overrides=TINY,
        jobs=1,
        progress=False,
    )
    run = strict_json(tmp_path / "results.json")["runs"]["addition"]["feedforward"]
    assert (run["train"]["iterations"], run["train"]["resumed"]) == (2, True)
    metrics = (
        RunKey("addition", "feedforward").directory(tmp_path, 0) / "metrics.jsonl"
    ).read_text()
    assert [json.loads(line)["iteration"] for line in metrics.splitlines()] == [1, 2]


def test_a_diverged_run_is_reported_and_the_rest_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_trained = runs_module.ensure_trained

    def diverging(config, directory, progress, *, plugins):
        if config.solver.name == "ponder":
            raise NonFiniteError("the training loss became NaN/Inf at iteration 1")
        return ensure_trained(config, directory, progress, plugins=plugins)

    monkeypatch.setattr(runs_module, "ensure_trained", diverging)
    summary = reproduce(
        tmp_path,
        tasks=["addition"],
        solvers=["feedforward", "ponder"],
        overrides=TINY,
        jobs=1,
        progress=False,
    )
    assert len(summary.trained) == 2
    row = next(
        line
        for line in (tmp_path / "results.md").read_text().splitlines()
        if line.startswith("| ponder |")
    )
    assert "diverged" in row
    assert "error" in strict_json(tmp_path / "results.json")["runs"]["addition"]["ponder"]


def test_every_solver_trains_at_the_rate_its_sweep_chose(reproduction: Path) -> None:
    results = strict_json(reproduction / "results.json")
    assert results["lr_factors"] == pytest.approx([1 / 3, 1, 3])
    for task in TASKS:
        for solver in SOLVERS:
            run = results["runs"][task][solver]
            preset_lr = 5e-4 if task == "addition" else 3e-4
            assert [float(rate) for rate in run["lr_sweep"]] == pytest.approx(
                [preset_lr / 3, preset_lr, preset_lr * 3], rel=3e-3
            )
            errors = {float(rate): error for rate, error in run["lr_sweep"].items()}
            assert run["lr"] == min(errors, key=errors.__getitem__)
            assert run["config"]["train"]["lr"] == run["lr"]
            assert run["config"]["train"]["iterations"] == 2
            sweep_runs = sorted((reproduction / "sweep" / task / solver).iterdir())
            assert len(sweep_runs) == 3
            for directory in sweep_runs:
                record = strict_json(directory / "validation.json")
                assert record["config"]["train"]["iterations"] == 1
                assert errors[record["lr"]] == record["validation"]
    lines = (reproduction / "results.md").read_text().splitlines()
    assert "| solver | addition | shortest_path |" in lines
    irem = next(
        line for line in lines if line.startswith("| irem |") and "**" in line and ":" in line
    )
    assert irem.count("**") == 4  # one chosen rate per task


def test_seeds_are_summarised_and_share_one_sweep(tmp_path: Path) -> None:
    summary = reproduce(
        tmp_path,
        tasks=["addition"],
        solvers=["feedforward"],
        overrides=TINY,
        seeds=[3, 4],
        sizes=[],
        jobs=1,
        progress=False,
    )
    key = RunKey("addition", "feedforward")
    assert summary.trained == [(key, 3), (key, 4)]
    assert len(list((tmp_path / "sweep" / "addition" / "feedforward").iterdir())) == 3
    results = strict_json(tmp_path / "results.json")
    run = results["runs"]["addition"]["feedforward"]
    assert results["seeds"] == [3, 4] and set(run["seeds"]["same"]) == {"3", "4"}
    models = [key.directory(tmp_path, seed) / "model.safetensors" for seed in (3, 4)]
    first, second = (load_file(model) for model in models)
    assert any(first[name].ne(second[name]).any() for name in first)
    row = next(
        line
        for line in (tmp_path / "results.md").read_text().splitlines()
        if line.startswith("| feedforward |") and "±" in line
    )
    assert row.count("±") == 2


def test_no_sweep_trains_at_the_preset_rate(tmp_path: Path) -> None:
    reproduce(
        tmp_path,
        tasks=["addition"],
        solvers=["feedforward"],
        overrides=TINY,
        sizes=[],
        lr_factors=[],
        jobs=1,
        progress=False,
    )
    assert not (tmp_path / "sweep").exists()
    run = strict_json(tmp_path / "results.json")["runs"]["addition"]["feedforward"]
    assert run["lr"] == 5e-4 and run["lr_sweep"] == {}


def test_the_chosen_rate_has_the_lowest_validation_error_and_divergence_loses() -> None:
    assert (
        chosen_rate(
            {1e-3: {"validation": 0.2}, 3e-3: {"validation": 0.1}, 1e-2: {"validation": None}}
        )
        == 3e-3
    )
    assert chosen_rate({1e-3: {"validation": None}, 3e-3: {"validation": None}}) == 1e-3


@pytest.mark.parametrize(
    "arguments",
    [
        ["--lr-sweep", "0,1"],
        ["--lr-sweep", "nan"],
        ["--sweep-fraction", "1.5"],
        ["--seeds", "-1"],
        ["--seeds", "a"],
    ],
)
def test_bad_sweep_or_seed_arguments_are_usage_errors(
    arguments: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "--out", str(tmp_path), *arguments])
    assert exit_info.value.code == 2 and "expected" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_repeated_seeds_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--out", str(tmp_path), "--seeds", "1,1"]) == 2
    assert "distinct" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train.iterations=5", (None, "train.iterations=5")),
        ("irem:solver.energy.hidden=8", ("irem", "solver.energy.hidden=8")),
        ("addition:task.size=3", ("addition", "task.size=3")),
        ("solver.name=a:b", (None, "solver.name=a:b")),
    ],
)
def test_scoped_overrides(text: str, expected: tuple[str | None, str]) -> None:
    assert parse_scoped_override(text) == expected


def test_typos_and_repeats_in_the_selection_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reproduce", "--out", str(tmp_path), "--tasks", "addition,addition"]) == 2
    assert "more than once" in capsys.readouterr().err
    assert (
        main(
            [
                "reproduce",
                "--out",
                str(tmp_path),
                "--tasks",
                "addition",
                "--set",
                "feedfoward:solver.hidden=8",
            ]
        )
        == 2
    )
    assert "feedfoward name no installed task or solver" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_damaged_record_is_evaluated_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = dict(
        tasks=["addition"],
        solvers=["feedforward"],
        overrides=TINY,
        sizes=[],
        lr_factors=[],
        jobs=1,
        progress=False,
    )
    reproduce(tmp_path, **arguments)
    record = RunKey("addition", "feedforward").directory(tmp_path, 0) / "evaluation.json"
    record.write_text(record.read_text()[:40])  # cut off mid-write by another tool
    summary = reproduce(tmp_path, **arguments)
    assert len(summary.trained) == 1 and "damaged" in capsys.readouterr().err
    assert json.loads(record.read_text())["train"]["iterations"] == 2


def test_the_records_alone_resume_a_reproduction_without_training(
    reproduction: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copied to a fresh folder, the runs' JSON records (no checkpoints, no problem files)
    are a finished reproduction: nothing trains and the results are the same."""
    for name in ("validation.json", "evaluation.json"):
        for record in reproduction.rglob(name):
            copy = tmp_path / record.relative_to(reproduction)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(record.read_bytes())

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a recorded run was trained again")

    monkeypatch.setattr(runs_module, "train", refuse)
    summary = reproduce(
        tmp_path, tasks=TASKS, solvers=SOLVERS, overrides=TINY, sizes=[3, 5], jobs=1, progress=False
    )
    assert summary.trained == [] and len(summary.reused) == len(TASKS) * len(SOLVERS)
    fresh, original = (
        strict_json(out / "results.json")["runs"] for out in (tmp_path, reproduction)
    )
    assert fresh == original
