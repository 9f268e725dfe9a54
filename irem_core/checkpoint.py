"""Checkpoints: tensors in safetensors files, everything else in ``config.json``.

A run directory holds ``model.safetensors`` (the solver's parameters), ``state.safetensors``
(optimizer moments, replay buffer, generator states) and ``config.json`` (run config, plugin
versions, iteration, seed, and the SHA-256 of both tensor files). Every file is written to a
temporary name and renamed into place; ``config.json`` goes last, so a checkpoint is only
visible once complete and a write killed midway leaves the previous one intact. Loading
never unpickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import attrs
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import Tensor

from irem_core.errors import CheckpointError

MODEL_FILE = "model.safetensors"
STATE_FILE = "state.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def tensors_to_bytes(tensors: dict[str, Tensor]) -> bytes:
    """Serialise named tensors (copied to contiguous CPU memory) in safetensors format."""
    return save_safetensors_bytes({name: t.detach().to("cpu", copy=True).contiguous()
                                   for name, t in tensors.items()})


def read_tensors(path: Path, expected_sha256: str | None = None) -> dict[str, Tensor]:
    """Read a safetensors file, checking its hash; raise :class:`CheckpointError` if bad."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist; is this a run directory written by "
                              "'irem train'?") from None
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise CheckpointError(f"{path} does not match the hash recorded in {CONFIG_FILE}: the "
                              "file was modified or truncated; restore it or retrain")
    try:
        return load_safetensors_bytes(data)
    except (SafetensorError, ValueError, OSError) as error:
        raise CheckpointError(f"{path} is not a valid safetensors file ({error}); it may be "
                              "truncated or corrupted: restore it or retrain") from None


@attrs.frozen
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        config: the run config as plain data.
        iteration: training iterations completed.
        plugins: ``{plugin name: version}`` at save time.
        model: the solver's state dict.
        state: named training-state tensors.
        extra: JSON training state (optimizer hyper-parameters, buffer cursor...).
    """

    config: dict[str, Any]
    iteration: int
    plugins: dict[str, str]
    model: dict[str, Tensor]
    state: dict[str, Tensor]
    extra: dict[str, Any]


def save_checkpoint(directory: Path, *, config: dict[str, Any], iteration: int,
                    plugins: dict[str, str], model: dict[str, Tensor],
                    state: dict[str, Tensor], extra: dict[str, Any]) -> None:
    """Write a complete checkpoint into ``directory`` atomically (see module docstring)."""
    model_bytes, state_bytes = tensors_to_bytes(model), tensors_to_bytes(state)
    atomic_write(directory / MODEL_FILE, model_bytes)
    atomic_write(directory / STATE_FILE, state_bytes)
    record = {
        "format": FORMAT_VERSION,
        "iteration": iteration,
        "seed": config.get("seed"),
        "config": config,
        "plugins": plugins,
        "sha256": {MODEL_FILE: hashlib.sha256(model_bytes).hexdigest(),
                   STATE_FILE: hashlib.sha256(state_bytes).hexdigest()},
        "training": extra,
    }
    atomic_write(directory / CONFIG_FILE, json.dumps(record, indent=2).encode())


def read_record(directory: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a run directory."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"no checkpoint in {directory}: {CONFIG_FILE} is missing; pass "
                              "the --out directory of a finished or running 'irem train'")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); the checkpoint is corrupted") from None
    missing = {"format", "iteration", "config", "plugins", "sha256"} - set(record)
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(sorted(missing))}; not an irem checkpoint")
    return record


def load_checkpoint(directory: Path, *, with_state: bool = True) -> Checkpoint:
    """Load the checkpoint in ``directory``, verifying both tensor files against their hashes."""
    directory = Path(directory)
    record = read_record(directory)
    model = read_tensors(directory / MODEL_FILE, record["sha256"][MODEL_FILE])
    state = read_tensors(directory / STATE_FILE, record["sha256"][STATE_FILE]) if with_state else {}
    return Checkpoint(record["config"], record["iteration"], record["plugins"], model, state,
                      record.get("training", {}))

