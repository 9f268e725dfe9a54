"""Keep freed memory in the process instead of handing it back to the OS (glibc only).

An iteration allocates and frees the same tensors of one to 30 MB again and again. glibc's
malloc serves blocks above its mmap threshold (dynamic, from 128 KiB) with fresh ``mmap``
calls and returns the top of its heap to the OS when more than a trim threshold is free, so
each such tensor is page-faulted in anew: shortest-path training spends about 8 % more CPU
time than with both thresholds raised, which makes malloc reuse that memory
(docs/performance.md).
Process-wide, so only commands call it (never an import); a user who sets any of glibc's own
malloc settings keeps them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameters (glibc's ``malloc.h``)."""

MMAP_THRESHOLD = 32 * 1024 * 1024
"""The largest mmap threshold glibc accepts on 64-bit systems: blocks below it come from the
heap (an ``(E, 128)`` float32 tensor stays under it up to ``E = 65,536`` edges)."""

TRIM_THRESHOLD = 2**31 - 1
"""Free memory at the top of the heap kept before trimming (the largest ``int``): never trim."""

USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
"""Environment variables through which a user tunes glibc's malloc; any of them set: hands off."""


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; ``True`` if they were set.

    Does nothing off Linux, on another C library, or when the user set any of
    :data:`USER_SETTINGS`.
    """
    if not sys.platform.startswith("linux") or any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # another C library, e.g. musl
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
