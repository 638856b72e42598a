"""Rows of cached features, read on demand: a search holds positions into the cache's float16 files, not copies.

A fit reads what it needs through :meth:`Rows.read`: all rows at once when they fit the memory budget (held
as one float16 tensor, cast to float32 per batch in the compiled step), else one chunk of the epoch's
shuffled order at a time. Pages of the memory-mapped files are released after every read, so resident
memory is bounded by the budget, not by the number of images.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_BUDGET_MB = 1024  # float16 features a fit may hold in memory; larger sets stream chunk by chunk


@dataclass(frozen=True)
class Rows:
    """Row ``i`` is ``sources[s][rows[i]]`` for a source ``s`` chosen per read (augmented views: one per view)."""

    sources: tuple[np.ndarray, ...]
    rows: np.ndarray

    @classmethod
    def of(cls, array: np.ndarray | Rows) -> Rows:
        """Rows over an in-memory array (used as it is), or ``array`` itself when it already is Rows."""
        if isinstance(array, Rows):
            return array
        return cls((_floats(array),), np.arange(len(array)))

    @classmethod
    def views(cls, array: np.ndarray | Rows) -> Rows:
        """Rows over a (views, n, ...) in-memory stack, one source per view; Rows are returned as they are."""
        if isinstance(array, Rows):
            return array
        return cls(tuple(_floats(v) for v in array), np.arange(array.shape[1]))

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.sources[0].shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.sources[0].dtype

    @property
    def row_bytes(self) -> int:
        return self.dtype.itemsize * int(np.prod(self.sources[0].shape[1:], dtype=np.int64))

    def subset(self, idx: np.ndarray) -> Rows:
        return Rows(self.sources, self.rows[idx])

    def concat(self, other: Rows) -> Rows:
        """These rows, then ``other``'s: positions into the same files when both read the same sources, else both
        read into memory (an explicit validation set has its own cache entry)."""
        if len(self.sources) == len(other.sources) and all(
            a is b for a, b in zip(self.sources, other.sources, strict=True)
        ):
            return Rows(self.sources, np.concatenate([self.rows, other.rows]))
        return Rows.of(np.concatenate([self.read(), other.read()]))

    def first(self, k: int) -> Rows:
        """Only the first ``k`` sources (the first ``k`` augmented views)."""
        return Rows(self.sources[:k], self.rows)

    def averaged(self, memo: dict[int, tuple[np.ndarray, np.ndarray]], folder: Path | None = None) -> Rows:
        """The same rows of each source's map averaged over its positions: a ``(n, h, w, c)`` source becomes a
        float32 ``(n, 1, 1, c)`` array, computed once per source (``memo``, shared by every Rows over it) in blocks
        of at most 32 MiB; written to a file in ``folder`` when given (read like the cache's files: memory then
        holds neither the maps nor the averages), else held in memory."""
        out = []
        for src in self.sources:
            if id(src) not in memo:
                path = None if folder is None else folder / f"{len(memo)}.npy"
                memo[id(src)] = (src, _average(src, path))
            out.append(memo[id(src)][1])
        return Rows(tuple(out), self.rows)

    def read(
        self, idx: np.ndarray | None = None, source: np.ndarray | int = 0, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Rows ``idx`` (all when None) in that order, in the sources' dtype; ``source``: one source or one per row.

        Into ``out`` when given, else into a new 64-byte-aligned array (TensorFlow can wrap it without a copy).
        """
        idx = np.arange(len(self.rows)) if idx is None else np.asarray(idx)
        if out is None:
            out = aligned_empty((len(idx), *self.sources[0].shape[1:]), self.dtype)
        src = np.broadcast_to(np.asarray(source), idx.shape)
        for s in np.unique(src):
            sel = np.flatnonzero(src == s)
            _take(self.sources[int(s)], self.rows[idx[sel]], out, sel)
        return out


def _floats(array: np.ndarray) -> np.ndarray:
    """float16 stays float16 (the cache's dtype); any other array becomes float32."""
    array = np.asarray(array)
    return array if array.dtype in (np.float16, np.float32) else array.astype(np.float32)


def _average(source: np.ndarray, path: Path | None = None, block_bytes: int = 32 * 2**20) -> np.ndarray:
    """``source.mean(axis=(1, 2))`` in float32, as a ``(n, 1, 1, c)`` array, read a block of rows at a time; with
    ``path``, written there block by block (each block's pages released) and returned memory-mapped."""
    n, c = len(source), source.shape[-1]
    shape = (n, 1, 1, c)
    out = np.empty(shape, np.float32) if path is None else np.lib.format.open_memmap(path, "w+", np.float32, shape)
    step = max(1, block_bytes // max(1, source[:1].nbytes))
    buf = aligned_empty((min(step, max(n, 1)), *source.shape[1:]), source.dtype)
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        _take(source, np.arange(lo, hi), buf, np.arange(hi - lo))
        out[lo:hi, 0, 0] = buf[: hi - lo].mean(axis=(1, 2), dtype=np.float32)
        if path is not None:
            release(out)
    if path is None:
        return out
    del out
    return np.load(path, mmap_mode="r")


def _take(source: np.ndarray, rows: np.ndarray, out: np.ndarray, at: np.ndarray) -> None:
    """``out[at] = source[rows]``. A memory-mapped cache file is read with ``preadv`` straight into ``out``:
    touching its pages through the mapping would make them (and the kernel's fault-around) resident."""
    path = getattr(source, "filename", None)
    if not (path and isinstance(source.base, mmap.mmap) and source.flags.c_contiguous and hasattr(os, "preadv")):
        out[at] = source[rows]
        return
    size = out[0].nbytes
    order = np.argsort(rows, kind="stable")  # ascending offsets: sequential reads on a cold disk
    with open(path, "rb", buffering=0) as f:
        for k in order:
            got = os.preadv(f.fileno(), [memoryview(out[at[k]]).cast("B")], source.offset + int(rows[k]) * size)
            if got != size:
                raise OSError(f"short read from {path}: row {int(rows[k])} ({got} of {size} bytes)")


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype, align: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary."""
    size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    buf = np.empty(size + align, np.uint8)
    start = (-buf.ctypes.data) % align
    return buf[start : start + size].view(dtype).reshape(shape)


def release(array: np.ndarray) -> None:
    """Drop the resident pages of a memory-mapped array (they are read again from the page cache on demand)."""
    mm = getattr(array, "_mmap", None)
    if mm is not None and hasattr(mm, "madvise"):
        if getattr(array, "mode", "r") != "r":
            array.flush()
        mm.madvise(mmap.MADV_DONTNEED)
