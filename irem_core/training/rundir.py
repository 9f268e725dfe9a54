"""A run directory's safety: one writer at a time (a lock), ``--force`` setting the old run aside
until the new one has a checkpoint (and putting it back if it fails first), and the saved
config that ``--resume`` continues."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from irem_core.errors import CheckpointError, IremError
from irem_core.plugins.manager import Plugins
from irem_core.runs.checkpoint import (
    BEST_FILE,
    CONFIG_FILE,
    LOCK_FILE,
    MODEL_FILE,
    PENDING_SUFFIX,
    STATE_FILE,
    read_record,
)
from irem_core.runs.files import open_run_file
from irem_core.training.loggers import logger_files

REPLACED_DIR = ".replaced"


def run_files(*, plugins: Plugins) -> list[str]:
    """The files (and folders) of a run: the checkpoint's and the best weights, then what the
    loggers of ``plugins`` write, then the checkpoint's files pending a commit."""
    return [
        CONFIG_FILE,
        MODEL_FILE,
        STATE_FILE,
        BEST_FILE,
        *logger_files(plugins=plugins),
        MODEL_FILE + PENDING_SUFFIX,
        STATE_FILE + PENDING_SUFFIX,
    ]


def prepare_directory(
    directory: Path, *, resume: bool, force: bool, modify: bool = True, plugins: Plugins
) -> None:
    """Check ``directory`` may receive a run; with ``force``, set the run it holds aside (see
    :func:`set_aside`).

    With ``modify=False`` (ranks other than 0) only the checks run.
    """
    existing = [name for name in run_files(plugins=plugins) if (directory / name).exists()]
    if (directory / REPLACED_DIR).exists():
        raise IremError(
            f"{directory / REPLACED_DIR} holds a run that an interrupted --force set "
            f"aside; move its files back into {directory} to keep that run, or delete "
            "the folder to discard it"
        )
    if resume:
        if not (directory / CONFIG_FILE).exists():
            raise CheckpointError(
                f"cannot resume: {directory} holds no checkpoint ({CONFIG_FILE} "
                "missing); drop --resume to start a new run there"
            )
        return
    if existing and not force:
        raise IremError(
            f"{directory} already holds a run ({', '.join(existing)}); pass --resume "
            "to continue it, --force to overwrite it, or choose another --out"
        )
    if modify:
        directory.mkdir(parents=True, exist_ok=True)


def set_aside(directory: Path, *, plugins: Plugins) -> Path | None:
    """Move the run files in ``directory`` into ``directory/.replaced``; returns that folder
    (``None`` when there was nothing to move). ``--force`` keeps the old run there until the
    new run's first checkpoint is committed, and puts it back if the new run fails first."""
    existing = [name for name in run_files(plugins=plugins) if (directory / name).exists()]
    if not existing:
        return None
    aside = directory / REPLACED_DIR
    aside.mkdir()
    for name in existing:
        os.replace(directory / name, aside / name)
    return aside


def put_back(directory: Path, aside: Path, *, plugins: Plugins) -> None:
    """Undo :func:`set_aside`: remove the new run's files and restore the old ones."""
    for name in run_files(plugins=plugins):
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    for path in aside.iterdir():
        os.replace(path, directory / path.name)
    aside.rmdir()


@contextlib.contextmanager
def run_lock(directory: Path, *, plugins: Plugins) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (``flock`` on ``directory/.lock``, which records
    the holder's PID); another process already holding it is an error naming that PID. A
    run that wrote nothing leaves no lock file behind. A link or a folder at ``.lock`` is an
    error naming it (see :func:`~irem_core.runs.files.open_run_file`)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open_run_file(directory / LOCK_FILE, "r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise IremError(
                f"{directory} is being written by another irem process (PID {holder}); "
                "wait for it to finish or stop it, or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            if not any((directory / name).exists() for name in run_files(plugins=plugins)):
                (directory / LOCK_FILE).unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def resume_config(directory: str | Path, *, plugins: Plugins) -> dict[str, Any]:
    """The config (plain data) saved in ``directory``'s checkpoint, for ``--resume``."""
    prepare_directory(Path(directory), resume=True, force=False, plugins=plugins)
    return read_record(Path(directory))["config"]
