from __future__ import annotations

import numpy as np
import pytest

from runner.plugins.registry import get_head
from runner.searching.train import fit_head
from runner.searching.updates import updater


@pytest.mark.parametrize("name", ["RMSprop", "Adam"])
def test_fused_update_equals_keras_optimizer(name: str) -> None:
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(40, 6)).astype("float32")
    a, b = tf.Variable(w0), tf.Variable(w0)
    reference = getattr(keras.optimizers, name)(learning_rate=1e-2)
    reference.build([a])
    fused = updater(getattr(keras.optimizers, name)(learning_rate=1e-2), [b])
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


def test_streaming_under_a_small_budget_gives_the_same_model(tmp_path) -> None:
    from runner.features.rows import Rows
    from runner.searching.feed import SLACK, Feed, OverBudget, overhead, state_bytes

    xt, yt, xv, yv = _data()
    path = tmp_path / "features.npy"
    np.save(path, np.concatenate([xt, xv]).astype(np.float16))
    cached = np.load(path, mmap_mode="r")
    train, val = Rows((cached,), np.arange(120)), Rows((cached,), np.arange(120, 160))
    params = {
        "pooling": "flatten",
        "width": 16,
        "dropout": 0.2,
        "learning_rate": 1e-2,
        "optimizer": "rmsprop",
        "batch_size": 8,
    }
    fit = lambda budget: fit_head(  # noqa: E731
        get_head("dense"), params, train, yt, val, yv, 2, 4, seed=1, budget_mb=budget
    )
    head = get_head("dense")
    state = state_bytes(head.build(train.shape[1:], 2, params), head.optimizer(params))
    small = (overhead(state, train, 8, 120) + 6.5 * 8 * train.row_bytes) / (1 - SLACK) / 2**20  # 6 batches of 8
    streams = Feed(train, None, val, small * 2**20, 8, state)
    assert not streams.resident and streams.chunk == 48  # the small budget streams chunks of 6 batches
    assert Feed(train, None, val, 2**30, 8, state).resident
    with pytest.raises(OverBudget, match="too large for --memory-budget"):  # not even one batch fits
        Feed(train, None, val, state, 8, state)
    held, streamed = fit(1024), fit(small)
    for a, b in zip(held.model.get_weights(), streamed.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the same batches in the same order: the same model
    for k, v in held.history.items():  # sums over chunks: equal up to float rounding
        np.testing.assert_allclose(v, streamed.history[k], rtol=1e-6)
    assert held.metrics == pytest.approx(streamed.metrics, rel=1e-6)
    views = Rows((cached, cached[::-1].copy()), np.arange(120))
    with_views = [
        fit_head(get_head("dense"), params, train, yt, val, yv, 2, 3, seed=1, x_views=views, budget_mb=b)
        for b in (1024, small)
    ]
    for a, b in zip(*(f.model.get_weights() for f in with_views), strict=True):
        np.testing.assert_array_equal(a, b)


def test_rows_read_in_any_order_from_any_source(tmp_path) -> None:
    from runner.features.rows import Rows

    a = np.arange(40, dtype=np.float16).reshape(10, 2, 2)
    np.save(tmp_path / "a.npy", a)
    mm = np.load(tmp_path / "a.npy", mmap_mode="r")
    rows = Rows((mm, a + 100), np.array([9, 3, 5, 0]))
    np.testing.assert_array_equal(rows.read(), a[[9, 3, 5, 0]])
    np.testing.assert_array_equal(rows.read(np.array([2, 0]), source=np.array([1, 0])), [a[5] + 100, a[9]])
    assert rows.subset(np.array([1, 2])).shape == (2, 2, 2) and rows.row_bytes == 8
    assert len(rows.first(1).sources) == 1


def test_rows_go_into_tensors_from_tensorflows_allocator_and_the_budget_is_reserved_untouched() -> None:
    import keras

    from runner import memory
    from runner.searching.feed import empty, slots

    def resident() -> int:
        import os

        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    t, view = empty((3, 2, 4), np.float16)
    view[:] = 5  # written through the view: the tensor a fit trains on sees it (no copy)
    assert np.asarray(t).tolist() == np.full((3, 2, 4), 5, np.float16).tolist()
    before = resident()
    memory.reserve(256 * 2**20)  # address space only: nothing is resident until a tensor uses it
    assert resident() - before < 32 * 2**20
    # RMSprop's fused update keeps two slots per weight (ms and mom, even at momentum 0): counted as such
    assert slots(keras.optimizers.RMSprop()) == 2 and slots(keras.optimizers.Adam()) == 2
