"""Every script in examples/ runs end to end in smoke mode (IREM_SMOKE=1) and stays short.

The scripts run single-threaded (``OMP_NUM_THREADS=1``: their tensors are tiny, and a second
thread only waits on a busy machine).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
NEW_EXAMPLES = {"train_and_evaluate", "solve_your_own", "custom_optimizer", "energy_landscape"}
OUTPUTS = {
    "demo": ("error_vs_steps.png", "min-energy"),
    "train_and_evaluate": ("evaluation.json", "MSE@min_energy"),
    "solve_your_own": ("answers.safetensors", "IREM's A + B"),
    "custom_optimizer": ("config.json", "normalized"),
    "energy_landscape": ("energy_landscape.png", "energy_landscape.png"),
}
"""What each script must write into ``--out`` and print."""


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_runs_in_smoke_mode(script: Path, tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("IREM_")}
    environment.update(IREM_SMOKE="1", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "run")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    written, printed = OUTPUTS[script.stem]
    assert printed in result.stdout
    assert (tmp_path / "run" / written).stat().st_size > 100


def test_examples_exist_and_are_short() -> None:
    assert {path.stem for path in EXAMPLES} >= NEW_EXAMPLES
    assert set(OUTPUTS) == {path.stem for path in EXAMPLES}, "add the new script to OUTPUTS"
    for path in EXAMPLES:
        if path.stem in NEW_EXAMPLES:
            statements = sum(
                isinstance(node, ast.stmt) for node in ast.walk(ast.parse(path.read_text()))
            )
            assert statements < 60, f"{path.name} has grown past 60 statements"
