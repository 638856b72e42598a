"""Images streamed from disk through ``tf.data``: decoded and resized in parallel (the same OpenCV decode and
cubic resize as extraction), batched and prefetched; never the whole dataset in memory."""

from __future__ import annotations

from typing import Any

import numpy as np


def image_stream(
    ds: Any, rows: np.ndarray, labels: np.ndarray, size: int, batch_size: int, binary: bool, seed: int | None = None
) -> Any:
    """``(pixels 0..255 float32, label)`` batches for ``ds``'s images at ``rows``; shuffled each pass when
    ``seed`` is given."""
    import tensorflow as tf

    def load(i: np.ndarray) -> np.ndarray:
        img = ds.image(int(i), size)
        return np.zeros((size, size, 3), np.float32) if img is None else img.astype(np.float32)

    y = labels.astype(np.float32).reshape(-1, 1) if binary else labels.astype(np.int32)
    d = tf.data.Dataset.from_tensor_slices((rows.astype(np.int64), y))
    if seed is not None:
        d = d.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)

    def decode(i: Any, label: Any) -> tuple[Any, Any]:
        x = tf.numpy_function(load, [i], tf.float32)
        x.set_shape((size, size, 3))
        return x, label

    return d.map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
