"""Training one head on cached features: early stopping on validation loss, best epoch's weights kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from runner.metrics import classification_metrics
from runner.specs import Head

if TYPE_CHECKING:  # pragma: no cover
    import keras

EpochHook = Callable[[int, dict[str, float]], None]
_determinism = False


@dataclass
class FitResult:
    model: keras.Model
    history: dict[str, list[float]]
    best_epoch: int
    metrics: dict[str, float]
    val_proba: np.ndarray = field(repr=False)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, with deterministic ops, so a seeded trial repeats exactly."""
    global _determinism
    import keras

    keras.utils.set_random_seed(seed)
    if not _determinism:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        _determinism = True


def _callback(history: dict[str, list[float]], hook: EpochHook | None):
    import keras

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            for k, v in logs.items():
                history.setdefault(k, []).append(v)
            if hook is not None:
                hook(epoch, logs)  # may raise optuna.TrialPruned: it propagates out of fit

    return Record()


def predict(model: keras.Model, x: np.ndarray, batch: int = 2048) -> np.ndarray:
    """Eager batched inference: no tf.function is traced per trial model."""
    parts = [np.asarray(model(x[i : i + batch], training=False)) for i in range(0, len(x), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)


def fit_head(
    head: Head,
    params: dict[str, Any],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    n_classes: int,
    epochs: int,
    seed: int,
    patience: int = 5,
    on_epoch: EpochHook | None = None,
    history: dict[str, list[float]] | None = None,
) -> FitResult:
    """Fit ``head`` with ``params``; ``history`` (if given) is filled epoch by epoch, even when pruned."""
    import keras

    set_seed(seed)
    model = head.build(tuple(x_train.shape[1:]), n_classes, params)
    binary = n_classes == 2
    model.compile(
        optimizer=head.optimizer(params),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    yt = y_train.astype("float32") if binary else y_train
    yv = y_val.astype("float32") if binary else y_val
    history = {} if history is None else history
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    model.fit(
        x_train,
        yt,
        validation_data=(x_val, yv),
        epochs=epochs,
        batch_size=head.batch_size(params),
        shuffle=True,
        verbose=0,
        callbacks=[_callback(history, on_epoch), stop],
    )
    val_loss = history.get("val_loss", [np.inf])
    best_epoch = int(np.argmin(val_loss))
    proba = predict(model, x_val)
    metrics = {f"val_{k}": v for k, v in classification_metrics(y_val, proba, n_classes).items()}
    return FitResult(model, history, best_epoch, metrics, proba)
