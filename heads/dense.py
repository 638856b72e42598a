"""The reference head: pooling -> Dense(width, relu) -> Dropout(rate) -> Dense(1 | K)."""

from __future__ import annotations

from typing import Any

from heads._common import OPTIMIZERS, POOLINGS, optimizer, output, pooled_input
from runner.plugins.registry import register_head
from runner.plugins.specs import Head

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

        inp, x = pooled_input(feature_shape, params["pooling"])
        x = keras.layers.Dense(int(params["width"]), activation="relu", name="hidden")(x)
        x = keras.layers.Dropout(float(params["dropout"]), name="dropout")(x)
        return keras.Model(inp, output(x, n_classes), name="head_dense")

    def optimizer(self, params: dict[str, Any]):
        return optimizer(params["optimizer"], params["learning_rate"])

    def batch_size(self, params: dict[str, Any]) -> int:
        return int(params["batch_size"])

    def pools(self, params: dict[str, Any]) -> bool:
        return params["pooling"] == "avg"


@register_head("dense")
def dense() -> Head:
    return DenseHead()
