"""Pieces every head shares: pooling of the cached feature map, the output layer, the optimizer."""

from __future__ import annotations

from typing import Any

POOLINGS = ("flatten", "avg")
OPTIMIZERS = ("rmsprop", "adam")


def pooled_input(feature_shape: tuple[int, ...], pooling: str):
    import keras

    inp = keras.Input(tuple(feature_shape), name="features")
    pool = keras.layers.Flatten if pooling == "flatten" else keras.layers.GlobalAveragePooling2D
    return inp, pool(name="pool")(inp)


def output(x: Any, n_classes: int, **dense_kwargs: Any):
    """Dense(1, sigmoid) for two classes, Dense(K, softmax) for K classes."""
    import keras

    if n_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", name="proba", **dense_kwargs)(x)
    return keras.layers.Dense(n_classes, activation="softmax", name="proba", **dense_kwargs)(x)


def optimizer(name: str, learning_rate: float):
    import keras

    cls = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam}[name]
    return cls(learning_rate=float(learning_rate))
