"""The logistic-regression probe: the same probabilities as scikit-learn's standardized pipeline, as a Keras head
on the whole feature map, out of fold with --folds, and refitted on all labelled rows with its C."""

from __future__ import annotations

import numpy as np
import pytest

from runner.searching.arrays import Arrays
from runner.searching.crossfit import splits
from runner.searching.probe import C_GRID, choose_c, fit, pooled, refitted, scored


def _maps(n: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2, 2, 6) maps whose averages separate the classes noisily, on very different scales per channel."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centers = rng.normal(size=(n_classes, 6))
    x = centers[y][:, None, None, :] + rng.normal(scale=1.5, size=(n, 2, 2, 6))
    return (x * np.array([1, 10, 100, 0.1, 1, 5])).astype(np.float32), y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_probe_is_sklearns_standardized_logistic_regression_and_a_keras_head(n_classes: int) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _maps(90, n_classes)
    avg = x.mean(axis=(1, 2))
    probe = fit(avg, y, 0.3)
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=3000)).fit(avg, y).predict_proba(avg)
    want = ref[:, 1:] if n_classes == 2 else ref
    assert probe.proba(avg).shape == want.shape
    assert np.allclose(probe.proba(avg), want, atol=1e-4)
    head = probe.head(x.shape[1:])  # the whole map in, averaged inside
    assert np.allclose(np.asarray(head.predict_on_batch(x)), want, atol=1e-4)


def test_c_is_chosen_from_the_grid_by_cross_validation() -> None:
    x, y = _maps(120, 2)
    c = choose_c(x.mean(axis=(1, 2)), y, seed=0)
    assert c in C_GRID
    noise = np.random.default_rng(1).normal(size=(120, 6)).astype(np.float32)  # nothing to learn: strongest L2
    assert choose_c(noise, y, seed=0) < c


def test_scored_rows_are_validation_rows_or_out_of_fold() -> None:
    x, y = _maps(60, 2)
    xv, yv = _maps(20, 2, seed=3)
    a = Arrays(x, y, xv, yv, 2, mirror=xv[:, :, ::-1])
    avg = pooled(a)
    assert avg is not None and avg.x_train.shape == (60, 1, 1, 6)
    probe, preds = scored(avg, folds=1, seed=0)
    assert np.allclose(preds["proba"], probe.proba(xv.mean(axis=(1, 2))))
    assert preds["mirror"].shape == (20, 1)

    avg = pooled(Arrays(x, y, xv, yv, 2, mirror=x[:, :, ::-1]))  # with --folds the scored rows are x_train
    assert avg is not None
    probe, preds = scored(avg, folds=3, seed=0)  # out of fold: each row from a fit that never saw it
    assert preds["proba"].shape == (60, 1) and preds["mirror"].shape == (60, 1)
    for xt, yt, xf, _, _, rows in splits(avg, 3, 0):
        part = fit(xt.read(), yt, probe.c)
        assert np.allclose(preds["proba"][rows], part.proba(xf.read()))
    assert not np.allclose(preds["proba"], probe.proba(x.mean(axis=(1, 2))), atol=1e-3)

    again = refitted(avg, probe)  # all labelled rows, the same C
    both = np.concatenate([x, xv]).mean(axis=(1, 2))
    want = fit(both, np.concatenate([y, yv]), probe.c).proba(both)
    assert again.c == probe.c and np.allclose(again.proba(both), want)


def test_the_probe_is_offered_unless_no_probe_on_validation_predictions_too(workdir) -> None:
    import mlflow
    from conftest import make_folders

    import runner
    from runner import tracking

    small = {"backbone": "tiny_cnn", "weights": "none", "image_size": 32, "epochs": 3, "study": "probe"}
    small |= {"select_folds": 0}  # decided on the trials' validation predictions (out of fold: tests/test_honest.py)
    root = make_folders(workdir / "train", per_class=12)
    r = runner.search(str(root), trials=2, seed=0, probe=False, **small)
    assert "probe" not in r.model["val_scores"] and "probe" not in r.model["members"]
    again = runner.search(str(root), trials=2, seed=0, resume=True, **small)  # finalized again, the probe on
    assert "probe" in again.model["val_scores"]  # offered: its own validation score is reported and logged
    logged = mlflow.MlflowClient(tracking.tracking_uri()).get_run(again.parent_run_id).data.metrics
    assert logged["val_probe_log_loss"] == pytest.approx(again.model["val_scores"]["probe"]["log_loss"])
