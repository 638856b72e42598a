from __future__ import annotations

import numpy as np
import pytest

from runner.registry import get_head
from runner.train import _updater, fit_head


@pytest.mark.parametrize("name", ["RMSprop", "Adam"])
def test_fused_update_equals_keras_optimizer(name: str) -> None:
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(40, 6)).astype("float32")
    a, b = tf.Variable(w0), tf.Variable(w0)
    reference = getattr(keras.optimizers, name)(learning_rate=1e-2)
    reference.build([a])
    fused = _updater(getattr(keras.optimizers, name)(learning_rate=1e-2), [b])
    for _ in range(6):
        g = tf.constant(rng.normal(size=(40, 6)).astype("float32"))
        reference.apply([g], [a])
        fused([g])
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(160, 2, 2, 8)).astype("float32")
    y = (x.reshape(160, -1)[:, :4].sum(axis=1) > 0).astype(int)
    return x[:120], y[:120], x[120:], y[120:]


def test_fit_is_seeded_keeps_best_epoch_and_learns() -> None:
    params = {
        "pooling": "flatten",
        "width": 32,
        "dropout": 0.1,
        "learning_rate": 1e-2,
        "optimizer": "adam",
        "batch_size": 16,
    }
    a = fit_head(get_head("dense"), params, *_data(), n_classes=2, epochs=40, seed=3, patience=3)
    b = fit_head(get_head("dense"), params, *_data(), n_classes=2, epochs=40, seed=3, patience=3)
    assert a.metrics == b.metrics and a.history == b.history  # same seed, same numbers
    assert a.metrics["val_accuracy"] >= 0.7  # chance is 0.5
    vl = a.history["val_loss"]
    assert a.best_epoch == int(np.argmin(vl)) and len(vl) <= 40
    assert a.metrics["val_log_loss"] == pytest.approx(min(vl), rel=1e-3)  # the best epoch's weights are kept


def test_pruning_hook_stops_training() -> None:
    class Stop(Exception):
        pass

    def hook(epoch: int, logs: dict) -> None:
        if epoch == 2:
            raise Stop

    history: dict = {}
    params = {"pooling": "avg", "l2": 1e-4, "learning_rate": 1e-2, "batch_size": 32}
    with pytest.raises(Stop):
        fit_head(get_head("linear"), params, *_data(), n_classes=2, epochs=30, seed=0, on_epoch=hook, history=history)
    assert len(history["loss"]) == 3
