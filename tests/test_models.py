"""The trained models under ``models/``: intact, loadable, described, and as good as documented.

``models/<task>`` holds the best model of each task, ``models/variants/<name>`` the variants
that teach something. ``models/manifest.json`` holds each folder's file hashes and a
100-problem check, keyed by the folder's path under ``models/`` (``shortest_path``,
``variants/shortest_path_plain``); the check is repeated here on CPU and must land within
``RELATIVE_TOLERANCE`` of the recorded min-energy MSE, a number the folder's ``README.md``
(its model card) prints.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import Any

import pytest

import irem_core as irem
from irem_core.cli import main

ROOT = Path(__file__).parent.parent
MODELS = ROOT / "models"
VARIANTS = "variants"
MANIFEST: dict[str, dict[str, Any]] = json.loads((MODELS / "manifest.json").read_text())
RELATIVE_TOLERANCE = 0.02
"""Room for float32 rounding on other CPUs (vector widths change summation order)."""
SIZE_LIMIT_BYTES = 25 * 2**20
SHIPPED_FILES = ("config.json", "model.safetensors")
TEST_TIME_OPTIMIZER = {"shortest_path": "linesearch", "connected_components": "linesearch"}
"""Best models whose test-time optimizer differs from the paper's plain step: their own
config must say so, so that ``irem eval models/TASK`` needs no flags."""


def model_folders() -> set[str]:
    """Every folder under ``models/`` that holds a shipped file, as its manifest key."""
    return {
        path.parent.relative_to(MODELS).as_posix()
        for path in MODELS.rglob("*")
        if path.name in SHIPPED_FILES
    }


def test_every_model_folder_is_in_the_manifest_and_all_fit_the_size_limit() -> None:
    assert model_folders() == set(MANIFEST)
    folders = {path.relative_to(MODELS).as_posix() for path in MODELS.rglob("*") if path.is_dir()}
    assert folders <= set(MANIFEST) | {VARIANTS}, "a folder under models/ that ships no model"
    assert all(key.count("/") == 0 or key.startswith(f"{VARIANTS}/") for key in MANIFEST)
    assert (
        sum(path.stat().st_size for path in MODELS.rglob("*") if path.is_file()) <= SIZE_LIMIT_BYTES
    )


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_shipped_files_have_their_recorded_hashes(name: str) -> None:
    assert set(MANIFEST[name]["sha256"]) == set(SHIPPED_FILES)
    for file, digest in MANIFEST[name]["sha256"].items():
        data = (MODELS / name / file).read_bytes()
        assert not data.startswith(b"version https://git-lfs"), f"{name}/{file} is an LFS pointer"
        assert hashlib.sha256(data).hexdigest() == digest, f"{name}/{file} changed"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_model_loads_through_the_public_api(name: str) -> None:
    run = irem.load_run(MODELS / name)
    task = run.config.task.name
    if name.startswith(f"{VARIANTS}/"):  # a variant is named TASK_VARIANT
        assert Path(name).name.startswith(f"{task}_")
    else:  # the best model of a task is named after it
        assert name == task
    assert run.config.device == "cpu"


@pytest.mark.parametrize("task", sorted(TEST_TIME_OPTIMIZER))
def test_best_models_carry_their_test_time_optimizer(task: str) -> None:
    record = json.loads((MODELS / task / "config.json").read_text())
    optimizer = TEST_TIME_OPTIMIZER[task]
    assert record["config"]["solver"]["optimizer"]["name"] == optimizer
    assert record["components"][f"optimizer:{optimizer}"]


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_check_evaluation_lands_on_the_recorded_number(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check = MANIFEST[name]["check"]
    monkeypatch.chdir(ROOT)
    arguments = shlex.split(check["command"])
    assert arguments[:3] == ["irem", "eval", f"models/{name}"]
    capsys.readouterr()
    assert main([*arguments[1:], "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mse"]["min_energy"] == pytest.approx(
        check["min_energy_mse"], rel=RELATIVE_TOLERANCE
    )
    for metric, value in check.get("metrics", {}).items():  # e.g. Sudoku's board accuracy
        assert report["metrics"][metric]["min_energy"] == pytest.approx(value, abs=0.02)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_model_card_prints_its_check(name: str) -> None:
    card = MODELS / name / "README.md"
    assert card.is_file(), f"models/{name} has no model card (README.md)"
    check = MANIFEST[name]["check"]
    text = card.read_text()
    assert f"`{check['command']}`" in text
    assert f"{check['min_energy_mse']:.4g}" in text


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_models_md_links_each_card(name: str) -> None:
    text = (ROOT / "docs" / "models.md").read_text()
    assert f"(../models/{name}/README.md)" in text
