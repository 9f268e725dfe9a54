"""Ship a trained run as a model folder under ``models/`` and record its check.

    python -m benchmarks.tools.ship_model RUN models/TASK [--split harder] [--problems 100]

Copies the run's weights (``model.safetensors``) and its ``config.json`` without the
training state (optimizer and replay buffers are not shipped: the folder evaluates, it does
not resume), sets the device to ``cpu``, then evaluates the folder on CPU exactly as
``irem eval models/TASK --split S -n N --json`` does and writes ``models/manifest.json``:
per model the SHA-256 of both files and the check's command and min-energy MSE (and the
task's own scores, such as Sudoku's board accuracy, where it has them), which
``tests/test_models.py`` repeats. With ``RUN`` equal to the folder, only the hashes and the
check of an already shipped model are (re)written.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

from irem_core.cli.app import main as irem_main
from irem_core.runs.evaluation import MIN_ENERGY

MANIFEST = Path("models/manifest.json")
"""Hashes and checks of every shipped model, keyed by folder under ``models/``
(``addition``, ``variants/shortest_path_plain``)."""

SHIPPED_FILES = ("config.json", "model.safetensors")


def shipped_record(run: Path) -> dict[str, Any]:
    """The run's ``config.json`` record without the training state, on CPU (its hashes stay:
    a folder without ``state.safetensors`` evaluates, it does not resume)."""
    record = json.loads((run / "config.json").read_text())
    record["training"] = {}
    record["config"]["device"] = "cpu"
    return record


def eval_json(argv: list[str]) -> dict[str, Any]:
    """``irem eval ... --json`` in this process; its JSON document."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = irem_main(["eval", *argv, "--json"])
    if code != 0:
        raise SystemExit(f"irem eval {' '.join(argv)} failed with exit code {code}")
    return json.loads(printed.getvalue())


def check_arguments(folder: Path, split: str, problems: int) -> list[str]:
    """The arguments of the check's ``irem eval`` (the default evaluation seed)."""
    return [str(folder), "--split", split, "-n", str(problems)]


def file_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of each shipped file of ``folder``."""
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in SHIPPED_FILES
    }


def ship(run: Path, folder: Path, split: str, problems: int) -> dict[str, Any]:
    """Write ``folder`` from ``run`` (unless they are one), evaluate it and return its manifest entry."""
    if run.resolve() != folder.resolve():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / "model.safetensors", folder / "model.safetensors")
        (folder / "config.json").write_text(json.dumps(shipped_record(run), indent=2) + "\n")
    arguments = check_arguments(folder, split, problems)
    result = eval_json(arguments)
    check = {
        "command": "irem eval " + " ".join(arguments),
        "split": split,
        "problems": problems,
        "min_energy_mse": result["mse"]["min_energy"],
    }
    if result.get("metrics"):  # the task's own scores, e.g. Sudoku's board accuracy
        check["metrics"] = {name: by[MIN_ENERGY] for name, by in result["metrics"].items()}
    return {"sha256": file_hashes(folder), "check": check}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run directory")
    parser.add_argument("folder", type=Path, help="the model folder, e.g. models/addition")
    parser.add_argument("--split", default="harder", help="the check's split (default: harder)")
    parser.add_argument("--problems", type=int, default=100, help="the check's problems")
    args = parser.parse_args()
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}
    key = args.folder.resolve().relative_to(MANIFEST.parent.resolve()).as_posix()
    manifest[key] = ship(args.run, args.folder, args.split, args.problems)
    MANIFEST.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    print(json.dumps(manifest[key], indent=2))


if __name__ == "__main__":
    main()
