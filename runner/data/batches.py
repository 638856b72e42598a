"""Decode images in parallel threads with a bounded lookahead and hand them out batch by batch.

Extraction, prediction and evaluation all read pixels through :func:`iter_batches`, so memory stays
bounded by ``lookahead * batch_size`` decoded images however many files there are, and decoding of the
next batches overlaps the network's work on the current one (OpenCV releases the GIL).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np


class Images(Protocol):
    def __len__(self) -> int: ...

    def image(self, i: int, size: int) -> np.ndarray | None: ...


def iter_batches(
    ds: Images, size: int, batch_size: int = 32, workers: int | None = None, lookahead: int = 3
) -> Iterator[tuple[range, list[np.ndarray | None]]]:
    """Yield ``(positions, images)`` per batch; an image is None where the file could not be decoded."""
    n = len(ds)
    workers = workers or min(4, os.cpu_count() or 1)
    batches = [range(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for b in range(len(batches)):
            while len(pending) < lookahead and b + len(pending) < len(batches):
                rng = batches[b + len(pending)]
                pending.append((rng, [pool.submit(ds.image, i, size) for i in rng]))
            rng, futures = pending.popleft()
            yield rng, [f.result() for f in futures]


def stack(images: list[np.ndarray | None], dtype: type = np.float32) -> tuple[list[int], np.ndarray | None]:
    """Offsets of the decoded images in the batch and their stack as ``dtype`` (None when all failed)."""
    ok = [k for k, img in enumerate(images) if img is not None]
    return ok, (np.stack([images[k] for k in ok]).astype(dtype, copy=False) if ok else None)
