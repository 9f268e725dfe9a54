"""The trained models under ``models/``: intact, loadable, and as good as documented.

``models/manifest.json`` (written by ``python -m benchmarks.ship_model``) holds each model's
file hashes and a 100-problem check; the check is repeated here on CPU and must land within
``RELATIVE_TOLERANCE`` of the recorded min-energy MSE, a number docs/models.md prints.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import Any

import pytest

import irem_core as irem
from irem_core.cli.app import main

ROOT = Path(__file__).parent.parent
MODELS = ROOT / "models"
MANIFEST: dict[str, dict[str, Any]] = json.loads((MODELS / "manifest.json").read_text())
RELATIVE_TOLERANCE = 0.02
"""Room for float32 rounding on other CPUs (vector widths change summation order)."""
SIZE_LIMIT_BYTES = 25 * 2**20


def test_every_model_folder_is_in_the_manifest_and_all_fit_the_size_limit() -> None:
    folders = {path.name for path in MODELS.iterdir() if path.is_dir()}
    assert folders == set(MANIFEST)
    assert (
        sum(path.stat().st_size for path in MODELS.rglob("*") if path.is_file()) <= SIZE_LIMIT_BYTES
    )


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_shipped_files_have_their_recorded_hashes(name: str) -> None:
    for file, digest in MANIFEST[name]["sha256"].items():
        data = (MODELS / name / file).read_bytes()
        assert not data.startswith(b"version https://git-lfs"), f"{name}/{file} is an LFS pointer"
        assert hashlib.sha256(data).hexdigest() == digest, f"{name}/{file} changed"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_model_loads_through_the_public_api(name: str) -> None:
    run = irem.load_run(MODELS / name)
    task = run.config.task.name  # a folder is named after its task, or TASK_VARIANT
    assert name == task or name.startswith(f"{task}_")
    assert run.config.device == "cpu"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_check_evaluation_lands_on_the_recorded_number(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check = MANIFEST[name]["check"]
    monkeypatch.chdir(ROOT)
    arguments = shlex.split(check["command"])
    assert arguments[:2] == ["irem", "eval"]
    capsys.readouterr()
    assert main([*arguments[1:], "--json"]) == 0
    mse = json.loads(capsys.readouterr().out)["mse"]["min_energy"]
    assert mse == pytest.approx(check["min_energy_mse"], rel=RELATIVE_TOLERANCE)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_models_md_prints_each_check(name: str) -> None:
    check = MANIFEST[name]["check"]
    text = (ROOT / "docs" / "models.md").read_text()
    assert f"`{check['command']}`" in text
    assert f"{check['min_energy_mse']:.4g}" in text
