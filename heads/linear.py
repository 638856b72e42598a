"""A linear probe: logistic regression on pooled features (softmax for K classes), L2 strength searched."""

from __future__ import annotations

from typing import Any

from heads._common import POOLINGS, optimizer, output, pooled_input
from runner.plugins.registry import register_head
from runner.plugins.specs import Head


class LinearHead(Head):
    description = "pooling {flatten, avg} -> Dense(1, sigmoid) | Dense(K, softmax) with L2 regularisation"

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {
            "pooling": trial.suggest_categorical("pooling", POOLINGS),
            "l2": trial.suggest_float("l2", 1e-6, 1e-1, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-2, log=True),
            "batch_size": trial.suggest_categorical("batch_size", (32, 64, 128)),
        }

    def build(self, feature_shape: tuple[int, ...], n_classes: int, params: dict[str, Any]):
        import keras

        inp, x = pooled_input(feature_shape, params["pooling"])
        reg = keras.regularizers.L2(float(params["l2"]))
        return keras.Model(inp, output(x, n_classes, kernel_regularizer=reg), name="head_linear")

    def optimizer(self, params: dict[str, Any]):
        return optimizer("adam", params["learning_rate"])

    def batch_size(self, params: dict[str, Any]) -> int:
        return int(params["batch_size"])

    def pools(self, params: dict[str, Any]) -> bool:
        return params["pooling"] == "avg"


@register_head("linear")
def linear() -> Head:
    return LinearHead()
