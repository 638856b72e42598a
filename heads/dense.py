"""The reference head: pooling -> Dense(width, relu) -> Dropout(rate) -> Dense(1 | K)."""

from __future__ import annotations

from typing import Any

from runner.registry import register_head
from runner.specs import Head

POOLINGS = ("flatten", "avg")
OPTIMIZERS = ("rmsprop", "adam")
BATCH_SIZES = (16, 32, 64, 128, 256)


class DenseHead(Head):
    description = "pooling {flatten, avg} -> Dense(width, relu) -> Dropout -> Dense(1, sigmoid) | Dense(K, softmax)"

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {
            "pooling": trial.suggest_categorical("pooling", POOLINGS),
            "width": trial.suggest_int("width", 32, 1024, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.7),
            "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-2, log=True),
            "optimizer": trial.suggest_categorical("optimizer", OPTIMIZERS),
            "batch_size": trial.suggest_categorical("batch_size", BATCH_SIZES),
        }

    def build(self, feature_shape: tuple[int, ...], n_classes: int, params: dict[str, Any]):
        import keras

        inp = keras.Input(tuple(feature_shape), name="features")
        pool = keras.layers.Flatten if params["pooling"] == "flatten" else keras.layers.GlobalAveragePooling2D
        x = pool(name="pool")(inp)
        x = keras.layers.Dense(int(params["width"]), activation="relu", name="hidden")(x)
        x = keras.layers.Dropout(float(params["dropout"]), name="dropout")(x)
        if n_classes == 2:
            out = keras.layers.Dense(1, activation="sigmoid", name="proba")(x)
        else:
            out = keras.layers.Dense(n_classes, activation="softmax", name="proba")(x)
        return keras.Model(inp, out, name="head_dense")

    def optimizer(self, params: dict[str, Any]):
        import keras

        cls = keras.optimizers.RMSprop if params["optimizer"] == "rmsprop" else keras.optimizers.Adam
        return cls(learning_rate=float(params["learning_rate"]))

    def batch_size(self, params: dict[str, Any]) -> int:
        return int(params["batch_size"])


@register_head("dense")
def dense() -> Head:
    return DenseHead()
