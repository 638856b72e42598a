"""A head that only averages the feature map trains on features averaged once: the same model, far cheaper."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from runner.features.rows import Rows
from runner.plugins.registry import get_head
from runner.searching.arrays import Arrays
from runner.searching.choice import Choice
from runner.searching.config import SearchConfig
from runner.searching.objective import Objective
from runner.searching.train import fit_head


def _arrays(n: int = 90) -> tuple[Arrays, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    x = (rng.normal(size=(n, 3, 3, 8)) + 0.7 * y[:, None, None, None]).astype(np.float16)
    return Arrays(x[:70], y[:70], x[70:], y[70:], 2, mirror=x[70:, :, ::-1]), x


def test_rows_are_averaged_once_per_source_in_blocks() -> None:
    x = np.random.default_rng(1).normal(size=(50, 4, 4, 6)).astype(np.float16)
    memo: dict = {}
    a, b = Rows.of(x).subset(np.arange(10, 20)), Rows.of(x).subset(np.arange(5))
    got_a, got_b = a.averaged(memo), b.averaged(memo)
    assert len(memo) == 1 and got_a.sources[0] is got_b.sources[0]  # one source: averaged once
    want = x.astype(np.float32).mean(axis=(1, 2))[:, None, None, :]
    np.testing.assert_allclose(got_a.read(), want[10:20], rtol=1e-6)
    from runner.features.rows import _average

    np.testing.assert_allclose(_average(x, block_bytes=200), want, rtol=1e-6)  # many small blocks: the same


def test_an_averaging_head_trains_on_averages_and_hands_back_the_same_model_on_maps() -> None:
    arrays, x = _arrays()
    cfg = SearchConfig(epochs=4, seed=0)
    heads = {"dense": get_head("dense"), "linear": get_head("linear")}
    objective = Objective(cfg, heads, {"b": arrays}, None, "", "", lambda kind, p: None)
    params = {"pooling": "avg", "width": 16, "dropout": 0.1, "learning_rate": 1e-2, "optimizer": "adam"}
    choice = Choice("b", "dense", params | {"batch_size": 16})
    assert objective.features(choice).x_train.shape[1:] == (1, 1, 8)  # averaged, once
    assert objective.features(choice) is objective.features(choice)
    flat = Choice("b", "dense", {**choice.params, "pooling": "flatten"})
    assert objective.features(flat) is arrays  # a flattening head reads the whole map
    fit = objective.fit_rung(choice, 3)
    on_maps = fit_head(heads["dense"], choice.params, x[:70], arrays.y_train, x[70:], arrays.y_val, 2, 4, cfg.seed + 3)
    for a, b in zip(fit.model.get_weights(), on_maps.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)  # the same training, up to summation order
    np.testing.assert_allclose(fit.val_proba, on_maps.val_proba, rtol=1e-4, atol=1e-5)
    full = objective.full(choice, fit.model)
    assert tuple(full.input_shape[1:]) == (3, 3, 8)  # what the end-to-end model feeds it: the whole map
    got = np.asarray(full(x[70:].astype(np.float32), training=False))
    np.testing.assert_allclose(got, fit.val_proba, rtol=1e-4, atol=1e-5)
    assert objective.full(flat, fit.model) is fit.model


def test_averaged_arrays_outlive_the_arrays_they_came_from() -> None:
    import gc

    arrays, x = _arrays()
    averaged = arrays.averaged()
    folder = Path(averaged.x_train.sources[0].filename).parent
    del arrays
    gc.collect()
    assert averaged.x_train.read().shape == (70, 1, 1, 8)  # its file is still there
    del averaged
    gc.collect()
    assert not folder.exists()  # and goes with it
