"""Input preprocessing as an exact per-pixel affine map ``y = x @ M + b`` on RGB 0..255 pixels.

Every preprocessing that keras.applications uses is affine per channel (caffe: RGB->BGR and mean
subtraction; tf: scale to [-1, 1]; torch: ImageNet mean/std). Expressing it as one frozen Dense(3)
layer lets the end-to-end model carry it with no custom code, and extraction runs the very same layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from runner.plugins.specs import PREPROCESS_MODES

if TYPE_CHECKING:  # pragma: no cover
    import keras

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
TORCH_MEAN = np.array([0.485, 0.456, 0.406])
TORCH_STD = np.array([0.229, 0.224, 0.225])


def affine(mode: str) -> tuple[np.ndarray, np.ndarray]:
    """``(M, b)`` such that ``preprocess(x) == x @ M + b`` for RGB pixels ``x`` in 0..255."""
    if mode == "caffe":
        m = np.eye(3)[:, ::-1].copy()  # output channel j reads input channel 2 - j (RGB -> BGR)
        return m, -CAFFE_MEAN_BGR
    if mode == "tf":
        return np.eye(3) / 127.5, -np.ones(3)
    if mode == "torch":
        return np.diag(1.0 / (255.0 * TORCH_STD)), -TORCH_MEAN / TORCH_STD
    if mode == "none":
        return np.eye(3), np.zeros(3)
    raise ValueError(f"unknown preprocessing {mode!r}; expected one of {PREPROCESS_MODES}")


def apply(x: np.ndarray, mode: str) -> np.ndarray:
    m, b = affine(mode)
    return (np.asarray(x, dtype=np.float32) @ m.astype(np.float32)) + b.astype(np.float32)


def layer(mode: str, name: str = "preprocess") -> keras.layers.Layer:
    """A frozen ``Dense(3)`` doing :func:`apply`; serialises with plain Keras, no custom objects."""
    import keras

    m, b = affine(mode)
    dense = keras.layers.Dense(3, trainable=False, name=name)
    dense.build((None, 3))
    dense.set_weights([m.astype("float32"), b.astype("float32")])
    return dense
