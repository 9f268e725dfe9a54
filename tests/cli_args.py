"""The one helper that writes ``irem train`` command lines for the tests."""

from __future__ import annotations

from pathlib import Path


def train_args(run_dir: Path, overrides: list[str], iterations: int, *extra: str) -> list[str]:
    """``irem train`` arguments for an addition run of ``iterations`` iterations into
    ``run_dir`` with ``--set`` ``overrides``, then ``extra``."""
    sets = [
        arg
        for override in [*overrides, f"train.iterations={iterations}"]
        for arg in ("--set", override)
    ]
    return ["train", "--task", "addition", "--out", str(run_dir), "--no-progress", *sets, *extra]


def resume_args(run_dir: Path, iterations: int, *extra: str) -> list[str]:
    """``irem train --resume`` arguments continuing ``run_dir`` to ``iterations``."""
    return [
        "train",
        "--out",
        str(run_dir),
        "--resume",
        "--no-progress",
        "--set",
        f"train.iterations={iterations}",
        *extra,
    ]
