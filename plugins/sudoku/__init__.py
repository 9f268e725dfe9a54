"""Sudoku, a discrete reasoning task: fill a 9×9 board from its givens."""

from __future__ import annotations

from typing import Any

from irem_core.plugins.hookspecs import Register, hookimpl
from irem_plugins.sudoku.energy import BoardEnergy, BoardEnergyConfig
from irem_plugins.sudoku.task import SudokuConfig, SudokuTask

__all__ = ["BoardEnergy", "BoardEnergyConfig", "SudokuConfig", "SudokuTask"]


def _preset(iterations: int, hidden: int = 128) -> dict[str, Any]:
    return {
        "train": {
            "iterations": iterations,
            "batch_size": 256,
            "replay_batch_size": 256,
            "steps": 5,
            "lr": 1e-3,
            "lr_warmup": 100,
            "lr_decay": "cosine",
            "lr_final": 0.01,
            "eval_every": 500,
            "checkpoint_every": 500,
        },
        "eval": {"problems": 500},
        "solvers": {
            "irem": {"energy": {"name": "board", "hidden": hidden}, "optimizer": {"name": "gd"}},
            "ired": {"energy": {"name": "board", "hidden": hidden, "landscapes": 10}},
        },
    }


PRESETS = {
    "paper": {"solvers": _preset(1)["solvers"]},
    "fast": _preset(5000),
    "quick": _preset(400, hidden=64),
}
"""``paper``: the core's defaults (batch 512 + 512, 10 steps, 10,000 iterations) with the
``board`` energy; ``fast``: 5,000 iterations of 256 + 256 puzzles at 5 steps with the
matrices' ``fast`` schedule; ``quick``: 400 such iterations with a 64-wide ``board`` (about
7 CPU minutes). A first recipe, not yet a tuned one."""


@hookimpl
def irem_register_tasks(register: Register) -> None:
    """Register ``sudoku`` (a vector task scored by board and cell accuracy)."""
    register("sudoku", SudokuTask, config=SudokuConfig, domain="vector", presets=PRESETS)


@hookimpl
def irem_register_energy_models(register: Register) -> None:
    """Register ``board``, the Sudoku energy (for the task ``sudoku`` only)."""
    register("board", BoardEnergy, config=BoardEnergyConfig, domain="vector", tasks=("sudoku",))
