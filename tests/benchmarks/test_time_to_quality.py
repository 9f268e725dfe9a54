"""The time-to-quality benchmark: its curve, its targets and its resume (tiny runs)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from benchmarks.speed.time_to_quality import main, reached


def tiny(tiny_overrides: list[str], iterations: int) -> list[str]:
    overrides = [*tiny_overrides, f"train.iterations={iterations}"]
    return [word for override in overrides for word in ("--set", override)]


def test_the_curve_records_points_targets_and_a_plot(
    tmp_path: Path, tiny_overrides: list[str]
) -> None:
    out = tmp_path / "ttq"
    assert (
        main(
            [
                "--task",
                "addition",
                "--preset",
                "paper",
                "--out",
                str(out),
                "--eval-every",
                "3",
                "--eval-problems",
                "8",
                *tiny(tiny_overrides, 6),
            ]
        )
        == 0
    )
    curve = json.loads((out / "curve.json").read_text())
    assert [point["iteration"] for point in curve["points"]] == [0, 3, 6]
    assert [point["problems_seen"] for point in curve["points"]] == [0, 24, 48]
    assert curve["targets"] == {"same": 0.0003, "harder": 0.0021}
    assert set(curve["reached"]) == {"same", "harder"}
    walls = [point["wall_s"] for point in curve["points"]]
    assert walls == sorted(walls) and walls[-1] > 0
    assert all(set(point["mse"]) == {"same", "harder"} for point in curve["points"])
    assert curve["runs"][0]["machine"]["torch"] == torch.__version__
    assert (out / "curve.png").stat().st_size > 0 and (out / "run" / "model.safetensors").exists()


def test_resume_continues_the_curve_and_the_training_exactly(
    tmp_path: Path, tiny_overrides: list[str]
) -> None:
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    common = [
        "--task",
        "addition",
        "--preset",
        "paper",
        "--eval-every",
        "3",
        "--eval-problems",
        "8",
    ]
    assert main([*common, "--out", str(straight), *tiny(tiny_overrides, 6)]) == 0
    assert (
        main([*common, "--out", str(halves), *tiny(tiny_overrides, 6), "--max-minutes", "0"]) == 0
    )
    stopped = json.loads((halves / "curve.json").read_text())
    assert stopped["points"][-1]["iteration"] == 1  # a zero time budget stops after one update
    assert main(["--out", str(halves), "--resume", "--eval-every", "3"]) == 0
    curve = json.loads((halves / "curve.json").read_text())
    assert [point["iteration"] for point in curve["points"]] == [0, 1, 4, 6]
    assert len(curve["runs"]) == 2 and curve["runs"][1]["from_iteration"] == 1
    expected, resumed = (
        load_file(path / "run" / "model.safetensors") for path in (straight, halves)
    )
    assert all(torch.equal(expected[name], resumed[name]) for name in expected)


def test_targets_are_reached_at_the_first_point_under_them() -> None:
    curve = {
        "targets": {"same": 0.1, "harder": 1.0},
        "points": [
            {"iteration": 0, "cpu_s": 0, "wall_s": 0, "mse": {"same": 5.0, "harder": 9.0}},
            {"iteration": 5, "cpu_s": 2, "wall_s": 60, "mse": {"same": 0.09, "harder": 2.0}},
            {"iteration": 9, "cpu_s": 4, "wall_s": 120, "mse": {"same": 0.2, "harder": 0.5}},
        ],
    }
    found = reached(curve)
    assert found["same"]["iteration"] == 5 and found["same"]["wall_min"] == 1.0
    assert found["harder"]["iteration"] == 9


def test_resume_without_a_curve_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path), "--resume"]) == 2
    assert "--resume needs --out DIR of an earlier benchmark" in capsys.readouterr().err
