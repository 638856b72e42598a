"""Giving freed memory back to the system between trials.

A trial allocates and frees hundreds of MiB (its head's weights and optimizer state, batches cast to float32);
glibc's malloc keeps freed blocks below its mmap threshold (up to 32 MiB) in per-thread arenas, so a process's
resident memory would creep up trial after trial. ``malloc_trim(0)`` returns every arena's free pages.

TensorFlow's own CPU allocator (oneDNN's, a best-fit pool) never gives memory back: a large head leaves its pool
behind for every later trial to reuse. :func:`resident` lets a search count what it holds above its start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release() -> None:
    """Collect garbage, then give the allocator's free pages back to the system (glibc only; else only the
    collection)."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def resident() -> int:
    """This process's resident memory in bytes (Linux ``/proc/self/statm``); 0 where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
