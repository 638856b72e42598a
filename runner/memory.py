"""Giving freed memory back to the system between trials.

A trial allocates and frees hundreds of MiB (its head's weights and optimizer state, batches cast to float32);
glibc's malloc keeps freed blocks below its mmap threshold (up to 32 MiB) in per-thread arenas, so a process's
resident memory would creep up trial after trial. ``malloc_trim(0)`` returns every arena's free pages.

TensorFlow's own CPU allocator (oneDNN's, a best-fit pool) never gives memory back: :func:`reserve` has it take
the budget once, so that trials reuse the same memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc


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


def reserve(nbytes: int) -> None:
    """Have TensorFlow's CPU allocator take twice ``nbytes`` as one region of address space, untouched (nothing
    becomes resident until used), and free it at once. TensorFlow's allocator (oneDNN's best-fit pool) never gives
    memory back: without this, each larger head or buffer than before grew the pool by a new region, and a
    search's resident memory ended at the sum of its largest trials. Within one region, what a trial frees
    coalesces, the next trial's tensors are carved from its start again, and the pages in use are about the most
    a trial held at once (``nbytes`` by the budget's accounting); the second half keeps a trial that holds a little
    more from opening a new region elsewhere (measured: +1.1 GB resident when one did)."""
    import tensorflow as tf

    if nbytes > 0:
        mib = -(-2 * int(nbytes) // 2**20)  # in MiB rows: a shape's dimensions are 32-bit
        tf.raw_ops.Empty(shape=[mib, 2**20], dtype=tf.uint8, init=False)
