"""The user's files and folders: errors naming them, and a run directory's files opened
without following a link planted there.

Every file irem writes in a run directory is either replaced by a rename (which replaces a
symbolic link, never its target; see :func:`~irem_core.runs.checkpoint.atomic_write`) or
opened here with ``O_NOFOLLOW``, and must be a regular file; every folder it writes into
must be a real folder. A link or a folder where a file belongs is an :class:`IremError`
naming the path, so irem never writes outside the run directory through it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO

from irem_core.errors import IremError

OS_ERROR_HINTS = {
    errno.ENOTDIR: "a part of the path is a file where a folder is needed",
    errno.EEXIST: "a file stands where a folder is needed",
    errno.EISDIR: "it is a folder; name a file",
    errno.EACCES: "no permission; choose a path you can write to",
    errno.EPERM: "no permission; choose a path you can write to",
    errno.EROFS: "the file system is read-only; choose a writable path",
    errno.ENOSPC: "the disk is full; free some space or choose another disk",
    errno.EDQUOT: "the disk quota is exhausted; free some space or choose another disk",
    errno.ENAMETOOLONG: "a name in the path is too long; shorten it",
}
r"""How to fix the common :class:`OSError`\ s of reading and writing a user's paths."""


def path_error(error: OSError, path: Path | str) -> IremError:
    """An :class:`IremError` for ``error``, raised reading or writing the user's ``path``:
    the path, the OS's reason and, for common errors, how to fix it."""
    where = f" ({error.filename})" if error.filename not in (None, str(path)) else ""
    hint = OS_ERROR_HINTS.get(error.errno or 0, "check the path")
    return IremError(f"cannot use {path}: {error.strerror or error}{where}; {hint}")


def _link_error(path: Path) -> IremError:
    """The error for a symbolic link where irem keeps one of a run's files or folders."""
    return IremError(
        f"{path} is a symbolic link; irem never writes through a link in a run directory "
        "(it could overwrite a file elsewhere): delete the link or choose another --out"
    )


def _not_a_file_error(path: Path, mode: int) -> IremError:
    """The error for a folder (or device, pipe...) where irem keeps one of a run's files."""
    what = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
    return IremError(
        f"{path} is {what}, but irem keeps a file of the run there; move it away or "
        "choose another --out"
    )


def check_run_file(path: Path) -> None:
    """Raise an :class:`IremError` if ``path`` exists but is a link or not a regular file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise _link_error(path)
    if not stat.S_ISREG(mode):
        raise _not_a_file_error(path, mode)


def run_folder(path: Path) -> Path:
    """Create the folder ``path`` of a run directory (its parents too) unless it exists;
    returns it. A link or a file there is an :class:`IremError`."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        try:
            path.mkdir(parents=True)
        except OSError as error:
            raise path_error(error, path) from None
        return path
    if stat.S_ISLNK(mode):
        raise _link_error(path)
    if not stat.S_ISDIR(mode):
        raise IremError(
            f"{path} is a file, but irem writes a folder there; move it away or choose "
            "another --out"
        )
    return path


def open_run_file(path: Path, mode: str) -> IO[str]:
    """Open the run file ``path`` as text, never through a link: ``mode`` ``"a"`` appends
    (creating it), ``"r+"`` reads and writes (creating it). A link, folder or other
    non-regular file at ``path`` is an :class:`IremError` naming it."""
    check_run_file(path)  # before opening: opening a pipe would block
    flags = {"a": os.O_WRONLY | os.O_APPEND, "r+": os.O_RDWR}[mode]
    try:
        handle = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _link_error(path) from None
        if error.errno == errno.EISDIR:
            raise _not_a_file_error(path, stat.S_IFDIR) from None
        raise path_error(error, path) from None
    file_mode = os.fstat(handle).st_mode
    if not stat.S_ISREG(file_mode):
        os.close(handle)
        raise _not_a_file_error(path, file_mode)
    return os.fdopen(handle, mode, newline="")
