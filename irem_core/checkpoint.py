"""Checkpoints: tensors in safetensors files, everything else in ``config.json``.

A run directory holds ``model.safetensors`` (the solver's parameters), ``state.safetensors``
(optimizer moments, replay buffer, generator states) and ``config.json`` (run config, plugin
versions, iteration, seed, and the SHA-256 of both tensor files). Loading never unpickles.

Saving is a small journal, so that a process killed at any instant leaves a loadable
checkpoint: (1) the tensor files are written beside their final names as ``*.next``
(fsynced); (2) ``config.json`` is atomically replaced — this is the commit point; (3) the
``*.next`` files are renamed over the final names. A load whose file does not match the
hash in ``config.json`` reads the matching ``*.next`` file instead (a save stopped between
(2) and (3)), and the next save first completes such a pending commit; before (2) the
previous checkpoint is untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import attrs
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
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    The file gets the permissions of an ordinary new file (``0o666`` less the umask), not
    the ``0o600`` of a temporary file, so others can read checkpoints and data files.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (read by setting it and restoring it at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def tensors_to_bytes(tensors: dict[str, Tensor]) -> bytes:
    """Serialise named tensors (copied to contiguous CPU memory) in safetensors format."""
    return save_safetensors_bytes({name: t.detach().to("cpu", copy=True).contiguous()
                                   for name, t in tensors.items()})


PENDING_SUFFIX = ".next"


def _read_committed(path: Path, expected_sha256: str) -> bytes:
    """The bytes of ``path`` or of its pending ``*.next`` twin, whichever matches the hash."""
    for candidate in (path, path.with_name(path.name + PENDING_SUFFIX)):
        try:
            data = candidate.read_bytes()
        except FileNotFoundError:
            continue
        if hashlib.sha256(data).hexdigest() == expected_sha256:
            return data
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; is this a run directory written by "
                              "'irem train'?")
    raise CheckpointError(f"{path} does not match the hash recorded in {CONFIG_FILE}: the "
                          "file was modified or truncated; restore it or retrain")


def read_tensors(path: Path, expected_sha256: str | None = None) -> dict[str, Tensor]:
    """Read a safetensors file (checking its hash if given); raise :class:`CheckpointError`
    if it is missing, damaged or not safetensors."""
    if expected_sha256 is not None:
        data = _read_committed(path, expected_sha256)
    else:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{path} does not exist") from None
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
        plugins: ``{plugin: {"distribution", "version"}}`` of the plugins at save time.
        components: ``{"kind:name": plugin}`` for every component the config uses.
        model: the solver's state dict.
        state: named training-state tensors.
        extra: JSON training state (optimizer hyper-parameters, buffer cursor...).
    """

    config: dict[str, Any]
    iteration: int
    plugins: dict[str, dict[str, str]]
    components: dict[str, str]
    model: dict[str, Tensor]
    state: dict[str, Tensor]
    extra: dict[str, Any]


def save_checkpoint(directory: Path, *, config: dict[str, Any], iteration: int,
                    plugins: dict[str, dict[str, str]], components: dict[str, str],
                    model: dict[str, Tensor],
                    state: dict[str, Tensor], extra: dict[str, Any]) -> None:
    """Write a complete checkpoint into ``directory`` (the journal of the module docstring).

    A commit left pending by a save killed between steps (2) and (3) is completed first, so
    that this save's ``*.next`` files never overwrite the only copy of the committed state.
    """
    complete_pending_commit(directory)
    payload = {MODEL_FILE: tensors_to_bytes(model), STATE_FILE: tensors_to_bytes(state)}
    for name, data in payload.items():
        atomic_write(directory / (name + PENDING_SUFFIX), data)
    record = {
        "format": FORMAT_VERSION,
        "iteration": iteration,
        "seed": config.get("seed"),
        "config": config,
        "plugins": plugins,
        "components": components,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in payload.items()},
        "training": extra,
    }
    atomic_write(directory / CONFIG_FILE, json.dumps(record, indent=2).encode())
    for name in payload:
        os.replace(directory / (name + PENDING_SUFFIX), directory / name)


def complete_pending_commit(directory: Path) -> None:
    """Finish step (3) of a save that was stopped after its commit: rename each ``*.next``
    file whose hash is the one ``config.json`` records over its final name. A ``*.next`` file
    that does not match belongs to an uncommitted save and is left to be overwritten."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        return
    try:
        hashes = json.loads(path.read_text()).get("sha256", {})
    except (json.JSONDecodeError, AttributeError):
        return  # a damaged record is reported by the load that needs it
    for name, expected in hashes.items():
        pending = Path(directory) / (name + PENDING_SUFFIX)
        if pending.is_file() and hashlib.sha256(pending.read_bytes()).hexdigest() == expected:
            os.replace(pending, Path(directory) / name)


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
    return Checkpoint(record["config"], record["iteration"], record["plugins"],
                      record.get("components", {}), model, state, record.get("training", {}))

