"""The blend decided on out-of-fold predictions: the candidates (best trials the refit can train, the probe)
cross-fitted on all labelled rows, every row predicted by a fit that never saw it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from runner.features.endtoend import BEFORE_REFIT
from runner.searching import honest
from runner.searching.arrays import Arrays
from runner.searching.choice import ATTR
from runner.searching.probe import PROBE, choose_c, fit

SMALL = {"backbone": "tiny_cnn", "weights": "none", "image_size": 32, "epochs": 3}


def _trial(number: int, value: float, views: int | None = None, refit: bool = True, backbone: str = "b") -> object:
    attrs = {ATTR: {"backbone": backbone, "head": "dense", "params": {}} | ({"views": views} if views else {})}
    return SimpleNamespace(number=number, value=value, user_attrs=attrs | ({"refit_epochs": 3} if refit else {}))


def test_candidates_are_the_best_trials_the_refit_can_train() -> None:
    done = [_trial(0, 0.3), _trial(1, 0.1, views=2), _trial(2, 0.2), _trial(3, 0.05, refit=False)]
    done += [_trial(4, 0.25), _trial(5, 0.15, backbone="other"), _trial(6, 0.4), _trial(7, 0.35)]
    objective = SimpleNamespace(maximize=False)
    picked = honest.candidates(objective, done, 224, {"b": 224, "other": 299})  # type: ignore[arg-type]
    assert [t.number for t in picked] == [2, 4, 0, 7][: honest.CANDIDATES]  # no views, refit epochs, one size
    assert [t.number for t in honest.candidates(SimpleNamespace(maximize=True), done, 224, {"b": 224})][:2] == [6, 7]


def test_folds_cover_every_row_once_stratified() -> None:
    y = np.array([0] * 12 + [1] * 8)
    parts = honest.folds(y, 5, seed=0)
    held = np.concatenate([va for _, va in parts])
    assert sorted(held) == list(range(20)) and len(parts) == 5
    assert all(np.bincount(y[va]).tolist() in ([3, 1], [2, 2], [3, 2], [2, 1]) for _, va in parts)
    assert len(honest.folds(np.array([0, 0, 0, 1, 1, 1, 1]), 5, seed=0)) == 3  # a class of 3 rows: 3 folds


def test_the_probes_out_of_fold_rows_come_from_fits_that_never_saw_them() -> None:
    rng = np.random.default_rng(0)
    y, yv = np.arange(60) % 2, np.arange(20) % 2
    x = (rng.normal(size=(60, 5)) + y[:, None]).astype(np.float32)
    xv = (rng.normal(size=(20, 5)) + yv[:, None]).astype(np.float32)
    a = Arrays(x, y, xv, yv, 2, mirror=xv * 0.9)
    both, labels = np.concatenate([x, xv]), np.concatenate([y, yv])
    parts = honest.folds(labels, 4, seed=0)
    out = honest.Honest({}, {}, labels, np.arange(60, 80))
    trained = honest._probe(a, labels, parts, 60, out, seed=0)
    c = choose_c(both, labels, 0)  # C by cross-validation on all labelled rows
    assert trained.c == c and np.allclose(trained.proba(x), fit(x, y, c).proba(x))  # fitted on the training rows
    for tr, va in parts:
        part = fit(both[tr], labels[tr], c)
        assert np.allclose(out.plain[PROBE][va], part.proba(both[va]))
        rows = va[va >= 60] - 60
        assert np.allclose(out.mirror[PROBE][rows], part.proba(xv[rows] * 0.9))
    assert out.best(2, "log_loss") == PROBE


def test_a_default_search_decides_out_of_fold_and_registers_what_it_chose(workdir) -> None:
    import mlflow
    from conftest import make_folders

    import runner
    from runner import tracking
    from runner.use.load import load

    root = make_folders(workdir / "train", per_class=12)
    r = runner.search(str(root), trials=3, seed=0, study="oof", **SMALL)
    assert r.model["decided_on"] == "out-of-fold"
    assert set(r.model["val_scores"]) >= {"best_single", "probe", "ensemble"}
    logged = mlflow.MlflowClient(tracking.tracking_uri()).get_run(r.parent_run_id).data.metrics
    assert logged["val_probe_log_loss"] == pytest.approx(r.model["val_scores"]["probe"]["log_loss"])
    loaded = load(f"models:/{r.registered_model['name']}/{r.registered_model['version']}")
    ens = loaded.meta["ensemble"]
    layers = {m["layer"] for m in ens["members"]}
    assert layers == {f"member_{t}" for t in r.model["members"]} and ens["best_member"] in layers
    # fine-tuning starts from the blend's first member as validated: its weights from before the refit, same shapes
    before = tracking.load_arrays(mlflow.MlflowClient(tracking.tracking_uri()), r.parent_run_id, BEFORE_REFIT)
    lead = loaded.model.get_layer(ens["best_member"]).get_weights()
    assert [before[f"w{i}"].shape for i in range(len(before))] == [w.shape for w in lead]
    again = runner.search(str(root), trials=3, seed=0, study="oof", resume=True, select_folds=0, probe=False, **SMALL)
    assert again.model["decided_on"] == "validation" and "probe" not in again.model["members"]
    assert again.model["members"] and again.model["val_scores"]["best_single"] != r.model["val_scores"]["best_single"]
