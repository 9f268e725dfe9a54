"""Checkpoints: bit-exact round trips, no unpickling, clear errors on damage."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import attrs
import pytest
import torch

from irem_core.errors import CheckpointError
from irem_core.runs.checkpoint import MODEL_FILE, load_checkpoint
from irem_core.runs.load import load_run
from irem_core.training.loop import train


@pytest.fixture
def trained(tiny_config, run_dir: Path) -> Path:
    train(tiny_config, run_dir, progress=False)
    return run_dir


def test_round_trip_is_bit_exact(tiny_config, trained: Path) -> None:
    from irem_core.runs.build import build_solver, build_task

    run = load_run(trained)
    checkpoint = load_checkpoint(trained)
    for name, tensor in run.solver.state_dict().items():
        assert torch.equal(tensor, checkpoint.model[name])
    assert run.iteration == 4
    # as it ran: auto precision without native bf16, the default loggers
    resolved = attrs.evolve(tiny_config.train, precision="fp32", loggers=["jsonl"])
    assert run.config == attrs.evolve(tiny_config, train=resolved)
    fresh = build_solver(tiny_config.solver, build_task(tiny_config.task), tiny_config.seed)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(fresh.state_dict().values(), run.solver.state_dict().values())
    )


def test_loading_never_unpickles(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("a load path unpickled")

    for module, name in [
        (pickle, "load"),
        (pickle, "loads"),
        (pickle, "Unpickler"),
        (torch, "load"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    run = load_run(trained)
    assert run.iteration == 4
    load_checkpoint(trained)


def test_config_json_records_plugins_iteration_and_seed(trained: Path) -> None:
    record = json.loads((trained / "config.json").read_text())
    assert record["iteration"] == 4 and record["seed"] == 0
    assert set(record["plugins"]) >= {"matrix", "irem", "optimizers"}
    assert record["config"]["task"] == {"name": "addition", "size": 3}


def test_truncated_weights_give_a_clear_error(trained: Path) -> None:
    path = trained / MODEL_FILE
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="modified or truncated"):
        load_run(trained)


def test_missing_checkpoint_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"config\.json is missing"):
        load_run(tmp_path)


WRITER = """
import sys, torch
from pathlib import Path
from irem_core.runs.checkpoint import save_checkpoint
directory = Path(sys.argv[1])
iteration = 0
while True:
    iteration += 1
    value = float(iteration)
    save_checkpoint(directory, config={"seed": 0}, iteration=iteration, plugins={}, components={},
                    model={"w": torch.full((1_500_000,), value)},
                    state={"s": torch.full((500_000,), value)}, extra={})
"""


@pytest.mark.parametrize("delay", [0.0, 0.003, 0.011, 0.029])
def test_kill_9_during_checkpoint_writes_leaves_a_loadable_checkpoint(
    tmp_path: Path, delay: float
) -> None:
    import subprocess
    import sys
    import time

    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert writer.poll() is None, "the checkpoint writer died on its own"
            config = tmp_path / "config.json"
            if config.exists() and json.loads(config.read_text())["iteration"] >= 2:
                break
            time.sleep(0.002)
        time.sleep(delay)
    finally:
        writer.kill()
        writer.wait()
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.iteration >= 2
    assert torch.all(checkpoint.model["w"] == checkpoint.iteration)
    assert torch.all(checkpoint.state["s"] == checkpoint.iteration)


def test_a_checkpoint_needing_a_missing_plugin_names_it_and_how_to_install(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from irem_core.errors import PluginError

    record = json.loads((trained / "config.json").read_text())
    assert record["components"]["task:addition"] == "matrix"
    monkeypatch.setenv("IREM_BLOCK_PLUGINS", "matrix")
    from irem_core.plugins.manager import build_plugins, entry_point_sources

    without_matrix = build_plugins(entry_point_sources())
    with pytest.raises(
        PluginError, match=r"task 'addition' from plugin 'matrix' \(distribution irem"
    ):
        load_run(trained, plugins=without_matrix)


def test_two_kills_in_a_row_keep_the_committed_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kill a save after its commit, then kill the next save before its commit: the second
    save must not overwrite the pending files that hold the committed state."""
    from irem_core.runs import checkpoint as module

    def save(tag: float) -> None:
        module.save_checkpoint(
            tmp_path,
            config={"seed": 0},
            iteration=int(tag),
            plugins={},
            components={},
            model={"w": torch.full((3,), tag)},
            state={"s": torch.full((2,), tag)},
            extra={},
        )

    class Killed(Exception):
        pass

    save(1.0)
    real_replace, real_write = module.os.replace, module.atomic_write

    def replace_until_committed(source, target) -> None:  # dies at step (3)
        if str(source).endswith(module.PENDING_SUFFIX):
            raise Killed
        real_replace(source, target)

    monkeypatch.setattr(module.os, "replace", replace_until_committed)
    with pytest.raises(Killed):
        save(2.0)
    monkeypatch.setattr(module.os, "replace", real_replace)

    def write_but_not_commit(path, data) -> None:  # dies at step (2)
        if Path(path).name == module.CONFIG_FILE:
            raise Killed
        real_write(path, data)

    monkeypatch.setattr(module, "atomic_write", write_but_not_commit)
    with pytest.raises(Killed):
        save(3.0)
    monkeypatch.setattr(module, "atomic_write", real_write)
    loaded = module.load_checkpoint(tmp_path)
    assert loaded.iteration == 2
    assert torch.equal(loaded.model["w"], torch.full((3,), 2.0))
    assert torch.equal(loaded.state["s"], torch.full((2,), 2.0))
