"""examples/irem-plugin-example installs, works and uninstalls as a user would meet it.

A throw-away virtual environment (no pip of its own) sees the running interpreter's
packages through a ``.pth`` file, so irem and torch are not reinstalled; the plugin is then
``pip install --no-deps --no-build-isolation --no-index -e``'d into it from a copy (so no
build files land in the repository), and the ``irem`` command and pytest run inside it.
``IREM_PLUGINS`` leaves out the graph and baseline plugins there: importing
torch_geometric would take most of the test's time.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PLUGIN = Path(__file__).parent.parent / "examples" / "irem-plugin-example"


def make_environment(root: Path) -> Path:
    """A virtual environment that sees exactly this interpreter's packages; its python.

    ``--system-site-packages`` would expose the base interpreter's packages rather than this
    one's (when this one runs in a venv), so a ``.pth`` file adds this one's site dirs.
    """
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parents = site.getsitepackages() + (
        [site.getusersitepackages()] if site.ENABLE_USER_SITE else []
    )
    (Path(purelib) / "_parent_environment.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({path!r})" for path in parents) + "\n"
    )
    return python


PLUGINS_USED = "example,matrix,optimizers,irem"
"""The plugins the subprocesses load (``IREM_PLUGINS``): the example and what it needs."""


def run(python: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python arguments...`` offline, single-threaded, loading only :data:`PLUGINS_USED`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IREM_", "PYTHONPATH", "PIP_"))
    }
    environment.update(
        OMP_NUM_THREADS="1",
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        IREM_PLUGINS=PLUGINS_USED,
    )
    result = subprocess.run(
        [str(python), *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, (
        f"{arguments} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    )
    return result


def plugin_report(python: Path, cwd: Path) -> dict[str, dict]:
    """``irem plugins --json`` in that environment, by plugin name."""
    report = json.loads(run(python, "-m", "irem_core", "plugins", "--json", cwd=cwd).stdout)
    return {plugin["name"]: plugin for plugin in report["plugins"]}


def test_install_list_train_test_uninstall(tmp_path: Path) -> None:
    source = tmp_path / "irem-plugin-example"
    shutil.copytree(
        PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    )
    python = make_environment(tmp_path / "venv")

    run(
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-e",
        str(source),
        cwd=tmp_path,
    )
    plugins = plugin_report(python, tmp_path)
    assert plugins["example"]["distribution"] == "irem-plugin-example"
    assert plugins["example"]["status"] == "active"
    assert plugins["example"]["registers"] == {"task": ["sort"], "optimizer": ["adam"]}
    assert "addition" in plugins["matrix"]["registers"]["task"]

    run(
        python,
        "-m",
        "irem_core",
        "train",
        "--task",
        "sort",
        "--preset",
        "quick",
        "--no-progress",
        "--set",
        "train.iterations=2",
        "--set",
        "train.batch_size=8",
        "--set",
        "eval.problems=8",
        "--set",
        "train.eval_problems=8",
        "--set",
        "solver.optimizer.name=adam",
        "--out",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert (saved["task"]["name"], saved["solver"]["optimizer"]["name"]) == ("sort", "adam")
    run(
        python,
        "-m",
        "irem_core",
        "eval",
        str(tmp_path / "run"),
        "-n",
        "4",
        "--set",
        "solver.optimizer.name=gd",
        cwd=tmp_path,
    )  # a third-party optimizer's run, with gd

    run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=source)

    run(python, "-m", "pip", "uninstall", "-y", "-q", "irem-plugin-example", cwd=tmp_path)
    plugins = plugin_report(python, tmp_path)
    assert "example" not in plugins and "matrix" in plugins
