"""Checkpoints: tensors in safetensors files, everything else in ``config.json``.

A run directory holds ``model.safetensors`` (the solver's parameters), ``state.safetensors``
(optimizer moments, replay buffer, generator states) and ``config.json`` (run config, plugin
versions, iteration, seed, and the SHA-256 of both tensor files). Loading never unpickles.
With periodic evaluation it also holds ``best.safetensors``: the weights of the lowest
validation MSE so far, with that iteration and MSE in the file's own metadata, so that one
atomic write replaces weights and record together (see :func:`save_best`).

Saving is a small journal, so that a process killed at any instant leaves a loadable
checkpoint: (1) the tensor files are written beside their final names as ``*.next``
(fsynced); (2) ``config.json`` is atomically replaced — this is the commit point; (3) the
``*.next`` files are renamed over the final names. A load whose file does not match the
hash in ``config.json`` reads the matching ``*.next`` file instead (a save stopped between
(2) and (3)), and the next save first completes such a pending commit; before (2) the
previous checkpoint is untouched. A load that a commit overtook (its files changed while it
read them) reads them again (see :func:`load_checkpoint`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

import attrs
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import Tensor

from irem_core.errors import CheckpointError, IremError
from irem_core.plugins.registry import KINDS
from irem_core.runs.files import path_error
from irem_core.runs.memory import available_memory
from irem_core.textfile import parse_json, read_text

MODEL_FILE = "model.safetensors"
BEST_FILE = "best.safetensors"
STATE_FILE = "state.safetensors"
CONFIG_FILE = "config.json"
LOCK_FILE = ".lock"
"""Held (``flock``) by the ``irem train`` writing the run; it records that process's PID."""
FORMAT_VERSION = 1


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    The file gets the permissions of an ordinary new file (``0o666`` less the umask), not
    the ``0o600`` of a temporary file, so others can read checkpoints and data files. An
    :class:`OSError` (disk full, read-only, not a folder...) becomes an :class:`IremError`
    naming ``path`` (see :func:`path_error`).
    """
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise path_error(error, path) from None
        raise


def _umask() -> int:
    """The process umask (read by setting it and restoring it at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def tensors_to_bytes(tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """Serialise named tensors (copied to contiguous CPU memory) in safetensors format, with
    ``metadata`` (strings) in its header."""
    return save_safetensors_bytes(
        {name: t.detach().to("cpu", copy=True).contiguous() for name, t in tensors.items()},
        metadata=metadata,
    )


PENDING_SUFFIX = ".next"


def _read_committed(path: Path, expected_sha256: str) -> bytes:
    """The bytes of ``path`` or of its pending ``*.next`` twin, whichever matches the hash."""
    for candidate in (path, path.with_name(path.name + PENDING_SUFFIX)):
        try:
            data = candidate.read_bytes()
        except FileNotFoundError:
            continue
        except IsADirectoryError:
            raise CheckpointError(
                f"{candidate} is a folder, but the run keeps a file there; move it away "
                "and restore the run's files, or retrain"
            ) from None
        if hashlib.sha256(data).hexdigest() == expected_sha256:
            return data
    if not path.exists():
        raise CheckpointError(
            f"{path} does not exist; is this a run directory written by 'irem train'?"
        )
    raise CheckpointError(
        f"{path} does not match the hash recorded in {CONFIG_FILE}: the "
        "file was modified or truncated; restore it or retrain"
    )


def read_tensors(
    path: Path, expected_sha256: str | None = None, remedy: str = "restore it or retrain"
) -> dict[str, Tensor]:
    """Read a safetensors file (checking its hash if given); raise :class:`CheckpointError`
    if it is missing, damaged or not safetensors, ending with ``remedy`` (how to fix it)."""
    data = (
        _read_committed(path, expected_sha256)
        if expected_sha256 is not None
        else read_data_file(path, remedy)
    )
    try:
        return load_safetensors_bytes(data)
    except (SafetensorError, ValueError, OSError) as error:
        raise CheckpointError(
            f"{path} is not a valid safetensors file ({error}); it may be "
            f"truncated or corrupted: {remedy}"
        ) from None


def read_data_file(path: Path, remedy: str) -> bytes:
    """The bytes of the data file ``path``: a regular file (not a device or pipe, which may
    never end) that fits in the memory available; else a :class:`CheckpointError` ending
    with ``remedy`` (an :class:`OSError` such as a folder's propagates, for the CLI to name
    the path)."""
    try:
        with open(path, "rb") as file:
            found = os.fstat(file.fileno())
            if not stat.S_ISREG(found.st_mode):
                raise CheckpointError(
                    f"{path} is not a regular file (a device or a pipe?); {remedy}"
                )
            available = available_memory(torch.device("cpu"))
            if found.st_size > available:
                raise CheckpointError(
                    f"{path} holds {found.st_size:,} bytes, more than the {available:,} "
                    f"bytes of memory available; {remedy}"
                )
            return file.read()
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist") from None


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


def save_checkpoint(
    directory: Path,
    *,
    config: dict[str, Any],
    iteration: int,
    plugins: dict[str, dict[str, str]],
    components: dict[str, str],
    model: dict[str, Tensor],
    state: dict[str, Tensor],
    extra: dict[str, Any],
) -> None:
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
        record = parse_json(read_text(path), path)
    except (json.JSONDecodeError, IremError):
        return  # a damaged record is reported by the load that needs it
    if check_record(record):
        return
    for name in (MODEL_FILE, STATE_FILE):
        expected = record["sha256"][name]
        pending = Path(directory) / (name + PENDING_SUFFIX)
        if pending.is_file() and hashlib.sha256(pending.read_bytes()).hexdigest() == expected:
            os.replace(pending, Path(directory) / name)


def remove_orphans(directory: Path) -> list[Path]:
    """Delete what interrupted saves left in a run directory: after any committed save is
    completed (:func:`complete_pending_commit`), ``*.next`` tensor files that match no commit
    and the hidden ``.NAME.XXXX.tmp`` files of :func:`atomic_write`. Call it only while
    holding the run's lock (no other process is writing). Returns the deleted paths."""
    directory = Path(directory)
    complete_pending_commit(directory)
    orphans = [directory / (name + PENDING_SUFFIX) for name in (MODEL_FILE, STATE_FILE)]
    orphans = [path for path in orphans if path.is_file()] + sorted(directory.glob(".*.tmp"))
    for path in orphans:
        path.unlink()
    return orphans


def read_record(directory: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a run directory, its layout checked (see
    :func:`check_record`)."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint in {directory}: {CONFIG_FILE} is missing; pass "
            "the --out directory of a finished or running 'irem train'"
        )
    try:
        record = parse_json(read_text(path), path)
    except (json.JSONDecodeError, IremError) as error:
        raise CheckpointError(
            f"{path} is not valid JSON ({error}); the checkpoint is "
            "corrupted: restore it or retrain"
        ) from None
    problems = check_record(record)
    if problems:
        raise CheckpointError(
            f"{path} is not a valid irem checkpoint record: "
            f"{'; '.join(problems)}; it was modified or comes from another "
            "program: restore it or retrain"
        )
    return record


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_record(record: Any) -> list[str]:
    """What is wrong with the layout of a parsed ``config.json`` (empty when nothing).

    Checks the fields every command reads: ``format`` (this version), ``iteration``,
    ``config``, ``plugins``, ``components`` (``kind:name`` of known kinds), ``sha256`` of
    both tensor files and ``training`` (a table, its fields checked on resume).
    """
    if not isinstance(record, dict):
        return [f"expected a JSON object, got {type(record).__name__}"]
    missing = {"format", "iteration", "config", "plugins", "sha256"} - set(record)
    if missing:
        return [f"lacks {', '.join(sorted(missing))}"]
    problems = []
    if record["format"] != FORMAT_VERSION or not _is_int(record["format"]):
        problems.append(
            f"format {record['format']!r} is not {FORMAT_VERSION}, the only "
            "format this irem reads (a newer irem wrote it? upgrade irem)"
        )
    if not _is_int(record["iteration"]) or record["iteration"] < 0:
        problems.append(f"iteration {record['iteration']!r} is not a non-negative integer")
    for key in ("config", "plugins", "training"):
        if not isinstance(record.get(key, {}), dict):
            problems.append(f"{key} is not an object")
    components = record.get("components", {})
    if not isinstance(components, dict):
        problems.append("components is not an object")
    else:
        for key, plugin in components.items():
            kind, _, name = key.partition(":")
            if kind not in KINDS or not name or not isinstance(plugin, str):
                problems.append(
                    f"components entry {key!r}: {plugin!r} is not a 'kind:name': "
                    f"'plugin' pair of a known kind ({', '.join(KINDS)})"
                )
    hashes = record["sha256"]
    for name in (MODEL_FILE, STATE_FILE):
        value = hashes.get(name) if isinstance(hashes, dict) else None
        if not (isinstance(value, str) and re.fullmatch("[0-9a-f]{64}", value)):
            problems.append(f"sha256 lacks a SHA-256 hex digest for {name}")
    return problems


LOAD_ATTEMPTS = 10
"""Reads of a checkpoint that a running ``irem train`` may commit anew under the reader."""


def load_checkpoint(directory: Path, *, with_state: bool = True) -> Checkpoint:
    """Load the checkpoint in ``directory``, verifying both tensor files against their hashes.

    A running ``irem train`` may commit a new checkpoint between the reads of ``config.json``
    and of the tensor files; when a read fails and the files changed meanwhile (see
    :func:`_stamp`), they are read again, up to :data:`LOAD_ATTEMPTS` times, so a reader
    never takes a half-committed pair for a damaged checkpoint.
    """
    directory = Path(directory)
    attempt = 1
    while True:
        before = _stamp(directory)
        try:
            return _read_checkpoint(directory, with_state=with_state)
        except CheckpointError as error:
            if attempt >= LOAD_ATTEMPTS or _stamp(directory) == before:
                raise _while_written(error, directory) from None
        attempt += 1


def _read_checkpoint(directory: Path, *, with_state: bool) -> Checkpoint:
    """One read of the checkpoint in ``directory`` (see :func:`load_checkpoint`)."""
    record = read_record(directory)
    model = read_tensors(directory / MODEL_FILE, record["sha256"][MODEL_FILE])
    state = read_tensors(directory / STATE_FILE, record["sha256"][STATE_FILE]) if with_state else {}
    return Checkpoint(
        record["config"],
        record["iteration"],
        record["plugins"],
        record.get("components", {}),
        model,
        state,
        record.get("training", {}),
    )


def _stamp(directory: Path) -> list[tuple[int, int, int] | None]:
    """Inode, modification time and size of each file a save replaces (``None`` if absent):
    any commit between two stamps changes it."""
    stamps: list[tuple[int, int, int] | None] = []
    for name in (CONFIG_FILE, MODEL_FILE, STATE_FILE):
        for path in (directory / name, directory / (name + PENDING_SUFFIX)):
            try:
                found = os.stat(path)
            except OSError:
                stamps.append(None)
                continue
            stamps.append((found.st_ino, found.st_mtime_ns, found.st_size))
    return stamps


def _while_written(error: CheckpointError, directory: Path) -> CheckpointError:
    """``error`` with a note when an ``irem train`` holds the run's lock: the checkpoint may
    only look damaged because that process is saving it."""
    holder = writer_pid(directory)
    if holder is None:
        return error
    return CheckpointError(
        f"{error}; but {directory} is being written by a running 'irem train' (PID "
        f"{holder}), so this may be a save in progress: try again, and restore or retrain "
        "only if it persists after that process ends"
    )


def writer_pid(directory: Path) -> str | None:
    """The PID recorded in ``directory/.lock`` while a process holds that lock (``"unknown"``
    if it recorded none), else ``None``. Probes with a shared lock, released at once."""
    try:
        handle = os.open(directory / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(handle) as file:
            try:
                fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return file.read(32).strip() or "unknown"
            fcntl.flock(file, fcntl.LOCK_UN)
            return None
    except (OSError, UnicodeDecodeError):
        return None


@attrs.frozen
class Best:
    """The best weights of a run (``best.safetensors``).

    Attributes:
        iteration: the iteration whose evaluation they scored.
        mse: their validation MSE at the training step budget.
        model: the solver's state dict (empty when loaded without it).
    """

    iteration: int
    mse: float
    model: dict[str, Tensor]


def save_best(directory: Path, model: dict[str, Tensor], iteration: int, mse: float) -> None:
    """Atomically replace ``directory/best.safetensors`` by ``model``, recording
    ``iteration`` and ``mse`` in the file's metadata."""
    metadata = {"iteration": str(iteration), "validation_mse": repr(mse)}
    atomic_write(Path(directory) / BEST_FILE, tensors_to_bytes(model, metadata))


def load_best(directory: Path, *, with_model: bool = True) -> Best:
    """The best weights saved in ``directory``; a missing or damaged file is a
    :class:`CheckpointError`."""
    path = Path(directory) / BEST_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(
            f"{directory} holds no {BEST_FILE}: it is written by training "
            "runs with periodic evaluation (train.eval_every > 0); evaluate "
            "the last checkpoint instead"
        ) from None
    try:
        size = int.from_bytes(data[:8], "little")
        metadata = parse_json(data[8 : 8 + size].decode(), path)["__metadata__"]
        iteration, mse = int(metadata["iteration"]), float(metadata["validation_mse"])
        model = load_safetensors_bytes(data) if with_model else {}
    except (SafetensorError, ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"{path} is damaged or lacks its iteration and validation MSE "
            f"({error}); delete it (training writes it anew at the next "
            "evaluation) or restore it"
        ) from None
    return Best(iteration, mse, model)


def tensor_mismatches(expected: dict[str, Tensor], found: dict[str, Tensor]) -> list[str]:
    """How the tensors ``found`` differ from ``expected`` in names, shapes and dtypes (empty
    when they match exactly; a dtype is never cast, so a tampered file is refused)."""
    problems = [f"missing {name}" for name in expected if name not in found]
    problems += [f"unexpected {name}" for name in found if name not in expected]
    for name, tensor in found.items():
        if name in expected and (tensor.shape, tensor.dtype) != (
            expected[name].shape,
            expected[name].dtype,
        ):
            problems.append(
                f"{name} is {tuple(tensor.shape)} {tensor.dtype}, expected "
                f"{tuple(expected[name].shape)} {expected[name].dtype}"
            )
    return problems


def same_layout(found: Any, expected: Any) -> bool:
    """Whether JSON data ``found`` has the layout of ``expected``: the same keys and list
    lengths, numbers where numbers are (int and float alike), else values of the same type."""
    if isinstance(expected, dict):
        return (
            isinstance(found, dict)
            and found.keys() == expected.keys()
            and all(same_layout(found[key], expected[key]) for key in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(found, list)
            and len(found) == len(expected)
            and all(map(same_layout, found, expected))
        )
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return isinstance(found, (int, float)) and not isinstance(found, bool)
    return type(found) is type(expected)
