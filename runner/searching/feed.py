"""Cached features into a fit, within ``--memory-budget``.

The budget covers what a fit holds that grows with the data or the head: the feature rows in memory and the
head's training state (weights, gradients, the best epoch's copy and the optimizer's slots). Rows all fit: they
are read once and held. Else they stream through one reused buffer, a chunk of the epoch's order at a time (a
chunk is a whole number of batches, so both paths train the same model). A forward pass casts at most
:data:`CAST_BYTES` of features to float32 at once. Rows are read into tensors from TensorFlow's allocator, the
memory the search reserved there (:func:`runner.memory.reserve`), where the head's state lives too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner.errors import RunnerError
from runner.features.rows import Rows

CAST_BYTES = 32 * 2**20  # float32 features one forward pass (validation, prediction) casts at once
MIB = 2**20
SLACK = 1 / 16  # of the budget, left to what a fit allocates besides its state, batch and rows
MAX_CHUNK = 128 * MIB  # the largest buffer rows stream through (measured: a 750-MB one grew the pool by 288 MB)


class OverBudget(RunnerError):
    """A head whose training state alone does not fit ``--memory-budget`` (with room for one batch of rows)."""

    def __init__(self, needed: float, budget: float) -> None:
        super().__init__(
            "this head is too large for --memory-budget",
            received=f"needs {needed / MIB:.0f} MiB (weights, gradients, optimizer state and one batch)",
            expected=f"at most --memory-budget {budget / MIB:.0f} MiB",
            fix=f"raise --memory-budget to {int(np.ceil(needed / MIB / 256) * 256)} or more, or use avg pooling",
        )
        self.needed = needed


def slots(optimizer: Any) -> int:
    """Variables per weight the optimizer keeps (Adam: 2 moments; RMSprop: 2, as its fused update keeps a
    momentum slot even at momentum 0 (:mod:`runner.searching.updates`), 3 centered; SGD: 0 or 1)."""
    name = type(optimizer).__name__.lower()
    cfg = optimizer.get_config() if hasattr(optimizer, "get_config") else {}
    momentum = 1 if cfg.get("momentum") else 0
    if name in ("sgd",):
        return momentum
    if name == "rmsprop":
        return 2 + (1 if cfg.get("centered") else 0)
    if name in ("adam", "adamw", "nadam", "adamax", "lion", "adagrad", "adadelta", "ftrl"):
        return 2
    return 3  # an unknown optimizer: assume a generous share


def state_bytes(model: Any, optimizer: Any) -> int:
    """Bytes of the head's training state (float32): its weights, the best epoch's copy, one more passing copy
    (the initialiser's values while the model is built, the weights a warm start or a kept trial reads or writes),
    the gradients and the optimizer's slots."""
    weights = sum(int(np.prod(v.shape)) for v in model.weights)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    return 4 * (3 * weights + trainable * (1 + slots(optimizer)))


def cast_rows(row_elements: int) -> int:
    """Rows per forward pass: at most :data:`CAST_BYTES` of float32 features (never fewer than one row)."""
    return max(1, CAST_BYTES // (4 * max(1, row_elements)))


def overhead(state: int, train: Rows, batch_size: int, most: int) -> int:
    """Bytes a fit holds besides its feature rows: the head's training state, and one batch's rows gathered from
    them, cast to float32 and kept for the backward pass (or one forward pass's, whichever is larger; never more
    rows than there are)."""
    elements = int(np.prod(train.shape[1:], dtype=np.int64))
    rows = min(max(batch_size, cast_rows(elements)), max(most, 1))
    return state + (8 + train.dtype.itemsize) * elements * rows


def _tensor(array: np.ndarray) -> Any:
    """A tensor over ``array``'s memory when TensorFlow can share it (C-contiguous, 64-byte aligned), else a copy."""
    import tensorflow as tf

    if array.flags.c_contiguous and array.ctypes.data % 64 == 0 and array.size:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array)


def empty(shape: tuple[int, ...], dtype: np.dtype) -> tuple[Any, np.ndarray]:
    """An uninitialised tensor from TensorFlow's CPU allocator and a writable NumPy view of its memory: rows are read
    straight into the memory a fit's tensors use, which --memory-budget reserved there (:func:`memory.reserve`).
    The view is valid while the tensor is referenced."""
    import ctypes

    import tensorflow as tf

    t = tf.raw_ops.Empty(shape=[int(d) for d in shape], dtype=tf.as_dtype(dtype), init=False)
    if not t.shape.num_elements():
        return t, np.empty(shape, dtype)
    address = np.from_dlpack(t).ctypes.data  # read-only view: only its address is used
    size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return t, np.ndarray(shape, dtype, buffer=(ctypes.c_char * size).from_address(address))


def blocks(n: int, block: int) -> list[tuple[int, int]]:
    """(first, end) of consecutive blocks of at most ``block`` rows."""
    block = max(1, block)
    return [(lo, min(lo + block, n)) for lo in range(0, n, block)]


class Feed:
    """Training and validation rows as tensors: all resident when they fit the features' share of the budget, else
    streamed through one buffer of ``chunk`` rows."""

    def __init__(
        self,
        train: Rows,
        views: Rows | None,
        val: Rows | None,
        budget: float,
        batch_size: int,
        state: int,
    ) -> None:
        self.train, self.views, self.val = train, views, val
        copies = len(views.sources) if views is not None else 1
        n_val = 0 if val is None else len(val)
        rb, most = train.row_bytes, max(len(train), n_val)
        self.forward_rows = cast_rows(int(np.prod(train.shape[1:], dtype=np.int64)))
        # what the feature rows may take: the rest, less a sixteenth for TensorFlow's own small tensors (a fit that
        # outgrows the reserved region makes the allocator add another, and resident memory jumps by what lands there)
        room = budget * (1 - SLACK) - overhead(state, train, batch_size, most)
        batch_rows = min(batch_size, max(len(train), 1)) * rb
        if room < batch_rows:
            raise OverBudget(budget - room + batch_rows, budget)
        # rows are read into tensors from TensorFlow's allocator (the memory the budget reserved), through NumPy views
        self.resident = (copies * len(train) + n_val) * rb <= room
        # a streamed chunk is at most MAX_CHUNK: one large buffer needs one large free hole in TensorFlow's pool
        self.chunk = max(1, int(min(room, MAX_CHUNK) // rb) // batch_size) * batch_size
        self._buffer: np.ndarray | None = None
        self._buffer_tensor: Any = None
        if self.resident:
            if views is None:
                self.x, x = empty(train.shape, train.dtype)
                train.read(out=x)
            else:
                self.x, x = empty((copies * len(train), *train.shape[1:]), train.dtype)
                for v in range(copies):
                    views.read(source=v, out=x[v * len(train) : (v + 1) * len(train)])
            if val is not None:  # one tensor per forward pass's block (slicing one tensor would copy it)
                self.val_blocks = []
                for lo, hi in blocks(len(val), self.forward_rows):
                    xv, view = empty((hi - lo, *val.shape[1:]), val.dtype)
                    val.read(np.arange(lo, hi), out=view)
                    self.val_blocks.append((xv, lo, hi))

    def _buffered(self, n: int) -> np.ndarray:
        """The first ``n`` rows of the reused chunk buffer (allocated once; :attr:`_buffer_tensor` is its tensor)."""
        if self._buffer is None:
            rows = min(self.chunk, max(len(self.train), 0 if self.val is None else len(self.val)))
            self._buffer_tensor, self._buffer = empty((rows, *self.train.shape[1:]), self.train.dtype)
        return self._buffer[:n]

    def epoch(self, order: np.ndarray, pick: np.ndarray | None):
        """(x, rows of x, rows of the labels) for the epoch's ``order``; ``pick``: a view per image. Each streamed
        chunk overwrites the last: the caller is done with a chunk before asking for the next."""
        import tensorflow as tf

        n = len(self.train)
        if self.resident:
            rows = order if pick is None else pick[order] * n + order
            yield self.x, tf.constant(rows, tf.int32), tf.constant(order, tf.int32)
            return
        for lo in range(0, n, self.chunk):
            part = order[lo : lo + self.chunk]
            buf = self._buffered(len(part))
            if pick is None:
                self.train.read(part, out=buf)
            else:
                self.views.read(part, pick[part], out=buf)
            yield self._buffer_tensor, tf.range(len(part), dtype=tf.int32), tf.constant(part, tf.int32)

    def validation(self):
        """(x, first row, end) over the validation rows, in blocks of at most ``forward_rows``."""
        if self.resident:
            yield from self.val_blocks
            return
        assert self.val is not None
        for lo, hi in blocks(len(self.val), self.chunk):
            buf = self._buffered(hi - lo)
            self.val.read(np.arange(lo, hi), out=buf)
            x = self._buffer_tensor
            for a, b in blocks(hi - lo, self.forward_rows):
                yield x[a:b], lo + a, lo + b


def predict_rows(model: Any, rows: Rows) -> np.ndarray:
    """The model's probabilities on ``rows``, a few MiB at a time."""
    step = cast_rows(int(np.prod(rows.shape[1:], dtype=np.int64)))
    parts = [
        np.asarray(model(_tensor(rows.read(np.arange(lo, hi))), training=False)) for lo, hi in blocks(len(rows), step)
    ]
    return np.concatenate(parts).astype(np.float32)
