"""An MLP head: 1 to 3 hidden layers, each with its own searched width and dropout."""

from __future__ import annotations

from typing import Any

from heads._common import OPTIMIZERS, POOLINGS, optimizer, output, pooled_input
from runner.plugins.registry import register_head
from runner.plugins.specs import Head


class MLPHead(Head):
    description = "pooling -> [Dense(width_i, relu) -> Dropout(dropout_i)] x 1..3 -> Dense(1 | K)"

    def suggest(self, trial: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "pooling": trial.suggest_categorical("pooling", POOLINGS),
            "layers": trial.suggest_int("layers", 1, 3),
        }
        for i in range(params["layers"]):
            params[f"width_{i}"] = trial.suggest_int(f"width_{i}", 16, 1024, log=True)
            params[f"dropout_{i}"] = trial.suggest_float(f"dropout_{i}", 0.0, 0.6)
        params["learning_rate"] = trial.suggest_float("learning_rate", 1e-5, 1e-2, log=True)
        params["optimizer"] = trial.suggest_categorical("optimizer", OPTIMIZERS)
        params["batch_size"] = trial.suggest_categorical("batch_size", (16, 32, 64, 128, 256))
        return params

    def build(self, feature_shape: tuple[int, ...], n_classes: int, params: dict[str, Any]):
        import keras

        inp, x = pooled_input(feature_shape, params["pooling"])
        for i in range(int(params["layers"])):
            x = keras.layers.Dense(int(params[f"width_{i}"]), activation="relu", name=f"hidden_{i}")(x)
            x = keras.layers.Dropout(float(params[f"dropout_{i}"]), name=f"dropout_{i}")(x)
        return keras.Model(inp, output(x, n_classes), name="head_mlp")

    def optimizer(self, params: dict[str, Any]):
        return optimizer(params["optimizer"], params["learning_rate"])

    def batch_size(self, params: dict[str, Any]) -> int:
        return int(params["batch_size"])

    def pools(self, params: dict[str, Any]) -> bool:
        return params["pooling"] == "avg"


@register_head("mlp")
def mlp() -> Head:
    return MLPHead()
