"""Every script in examples/ runs end to end in smoke mode (IREM_SMOKE=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_runs_in_smoke_mode(script: Path, tmp_path: Path) -> None:
    environment = {**os.environ, "IREM_SMOKE": "1"}
    result = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "run")],
                            cwd=tmp_path, env=environment, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    if script.stem == "demo":
        assert "min-energy" in result.stdout
        assert (tmp_path / "run" / "error_vs_steps.png").stat().st_size > 1000


def test_examples_exist() -> None:
    assert EXAMPLES, "examples/ has no scripts"
