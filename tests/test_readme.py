"""The README's command block runs in order, as written, on tiny settings.

Each ``irem`` line of the block runs through :func:`irem_core.cli.app.main` in one working
directory, so later lines read what earlier ones wrote (``runs/add`` ...). Only sizes
shrink: ``train`` and ``reproduce`` get ``--set`` overrides for tiny models and 2 to 4
iterations, problem counts of ``eval``, ``nested`` and ``plot`` shrink with ``-n``; every
flag, path and step budget stays as written.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from irem_core.cli.app import main

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"

TINY_TASK = {
    "addition": ["task.size=3", "solver.energy.hidden=8"],
    "shortest_path": [
        "task.max_train_nodes=4",
        "task.same_nodes=4",
        "task.harder_nodes=5",
        "solver.energy.hidden=8",
        "eval.batch_size=8",
    ],
}
TINY_TRAINING = [
    "train.batch_size=8",
    "train.replay_batch_size=4",
    "train.replay_capacity=16",
    "train.eval_every=0",
    "train.checkpoint_every=1",
    "eval.problems=8",
]

COVERED_ELSEWHERE = {
    "--nproc": "tests/core/training/test_distributed.py launches torchrun the same way",
    "benchmarks.speed.time_to_quality": "tests/benchmarks/test_time_to_quality.py",
}


def command_block() -> list[str]:
    """The lines of the README's ``bash`` block under "The command line", comments dropped."""
    text = README.read_text()
    section = text[text.index("## The command line") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README.md has no bash block under 'The command line'"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def tiny(words: list[str]) -> list[str]:
    """``words`` (an ``irem`` command without ``irem``) with tiny sizes."""
    command = words[0]
    if command in ("train", "reproduce"):
        words = [re.sub(r"^train\.iterations=\d+$", "train.iterations=4", word) for word in words]
        task = words[words.index("--task") + 1] if "--task" in words else "addition"
        sets = (
            TINY_TASK[task]
            + TINY_TRAINING
            + (["train.iterations=2"] if "--resume" not in words else [])
        )
        if command == "reproduce":
            words += [
                "--tasks",
                "addition",
                "--solvers",
                "irem,feedforward",
                "--sizes",
                "",
                "--jobs",
                "1",
                "--no-progress",
            ]
            sets = [
                "addition:task.size=3",
                "irem:solver.energy.hidden=8",
                "feedforward:solver.hidden=8",
                *TINY_TRAINING,
                "train.iterations=2",
            ]
        return words + [word for override in sets for word in ("--set", override)]
    if command in ("eval", "nested", "plot") and "--data" not in words:
        return words + ["-n", "8"]
    return words


def test_the_readme_command_block_runs_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = []
    for line in command_block():
        if any(marker in line for marker in COVERED_ELSEWHERE):
            continue
        words = shlex.split(line)
        assert words[0] == "irem", f"README command is not an irem command: {line}"
        assert main(tiny(words[1:])) == 0, line
        ran.append(words[1])
    assert {"plugins", "train", "eval", "data", "plot", "nested", "reproduce"} <= set(ran)
    assert (tmp_path / "harder.safetensors").is_file()
    assert (tmp_path / "runs" / "add" / "plots" / "training.png").is_file()
