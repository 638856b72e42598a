"""The logistic-regression probe: a candidate member of the blend beside the trials, fitted in closed form.

A standardized logistic regression on the globally averaged features, its C chosen by cross-validated log loss, is
the strongest simple baseline on cached features (scikit-learn, seconds). It learns from what the trials lack:
every feature on one scale, and a regularization chosen by cross-validation rather than an early stop on one
validation split. Its validation (out-of-fold with --folds) predictions enter the greedy ensemble selection like a
trial's; chosen, it becomes a head like any other (average pooling -> Dense, the standardization folded into the
weights), refitted on all labelled rows with its C (no early stop to lose). Not a trial: it is not searched.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from runner.features.rows import Rows
from runner.searching.arrays import Arrays

PROBE = -1  # the probe's key among the trials' numbers in a blend
NAME = "probe"
C_GRID = tuple(float(c) for c in np.logspace(-4, 2, 13))
CV_ROWS = 5000  # C is chosen on at most this many rows (stratified): its cost stays bounded on large data sets


def member_name(number: int) -> str:
    """A blend member's name: its trial's number, or ``probe``."""
    return NAME if number == PROBE else str(number)


@dataclass
class Probe:
    """Weights on the raw averaged features (standardization folded in): ``coef`` (c, width), ``intercept`` (width,);
    width 1 (sigmoid) for two classes, K (softmax) for K."""

    coef: np.ndarray
    intercept: np.ndarray
    c: float
    backbone: str = ""  # whose features it was fitted on

    def proba(self, x: np.ndarray) -> np.ndarray:
        z = _flat(x) @ self.coef + self.intercept
        if z.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-z))
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def head(self, feature_shape: tuple[int, ...]):
        """A Keras head on the backbone's whole feature map: average pooling -> Dense with these weights."""
        import keras

        inp = keras.Input(tuple(feature_shape), name="features")
        x = keras.layers.GlobalAveragePooling2D(name="pool")(inp) if len(feature_shape) == 3 else inp
        width = self.coef.shape[1]
        dense = keras.layers.Dense(width, activation="sigmoid" if width == 1 else "softmax", name="proba")
        model = keras.Model(inp, dense(x), name="head_probe")
        model.set_weights([self.coef.astype(np.float32), self.intercept.astype(np.float32)])
        return model


def _flat(x: np.ndarray) -> np.ndarray:
    """Rows as (n, features) float32 (scikit-learn's lbfgs keeps float32: half the memory of float64)."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1)


def _logistic(c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000)


def choose_c(x: np.ndarray, y: np.ndarray, seed: int, folds: int = 5) -> float:
    """C by cross-validated log loss on (at most :data:`CV_ROWS` of) the standardized rows."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold, train_test_split

    if len(y) > CV_ROWS:
        x, _, y, _ = train_test_split(x, y, train_size=CV_ROWS, stratify=y, random_state=seed)
    x = _standardized(x)[0]
    folds = max(2, min(folds, int(np.bincount(y).min())))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter at the grid's weak end
        lr = LogisticRegressionCV(Cs=list(C_GRID), cv=cv, scoring="neg_log_loss", max_iter=3000).fit(x, y)
    return float(np.ravel(lr.C_)[0])


def _standardized(x: np.ndarray, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows standardized, mean, std) of (n, features) float32 rows; ``overwrite``: in place when ``x`` allows it
    (rows read for this fit alone: no second copy of them in memory)."""
    x = _flat(x)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0).astype(x.dtype)
    if overwrite and x.flags.writeable:
        x -= mean
        x /= std
        return x, mean, std
    return (x - mean) / std, mean, std


def fit(x: np.ndarray, y: np.ndarray, c: float, overwrite: bool = False) -> Probe:
    """A standardized logistic regression with this C, its weights returned on the raw features. ``overwrite``:
    standardize ``x`` in place (see :func:`_standardized`)."""
    x, mean, std = _standardized(x, overwrite)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr = _logistic(c).fit(x, y)
    coef = (lr.coef_.astype(np.float64) / std).T  # (c, width)
    return Probe(coef, lr.intercept_.astype(np.float64) - mean.astype(np.float64) @ coef, c)


def pooled(a: Arrays) -> Arrays | None:
    """The arrays the probe reads: averaged maps, or flat features as they are; None for other shapes, or when a
    class has fewer than 2 training rows (nothing to cross-validate C on)."""
    ndim = len(a.x_train.shape)
    if ndim not in (2, 4) or np.bincount(a.y_train, minlength=a.n_classes).min() < 2:
        return None
    return a.averaged() if ndim == 4 else a


def scored(a: Arrays, folds: int, seed: int, backbone: str = "") -> tuple[Probe, dict[str, np.ndarray]]:
    """The probe fitted on the training rows of ``backbone``'s features ``a``, and its predictions on the rows trials
    are scored on: the validation rows, or out of fold on the training rows with --folds (the same folds as the
    trials'), plain and mirrored."""
    from runner.searching.crossfit import splits

    x = a.x_train.read()
    c = choose_c(x, a.y_train, seed)
    probe = fit(x, a.y_train, c, overwrite=True)
    probe.backbone = backbone
    del x
    if folds <= 1:
        out = {"proba": probe.proba(a.x_val.read())}
        if a.mirror is not None:
            out["mirror"] = probe.proba(a.mirror.read())
        return probe, out
    n, width = len(a.y_train), probe.coef.shape[1]
    out = {"proba": np.zeros((n, width))} | ({"mirror": np.zeros((n, width))} if a.mirror is not None else {})
    for xt, yt, xv, _, _, rows in splits(a, folds, seed):
        part = fit(xt.read(), yt, c, overwrite=True)
        out["proba"][rows] = part.proba(xv.read())
        if a.mirror is not None:
            out["mirror"][rows] = part.proba(a.mirror.subset(rows).read())
    return probe, out


def refitted(a: Arrays, probe: Probe) -> Probe:
    """The probe trained again on training + validation rows with its C."""
    x: Rows = a.x_train.concat(a.x_val)
    out = fit(x.read(), np.concatenate([a.y_train, a.y_val]), probe.c, overwrite=True)
    out.backbone = probe.backbone
    return out
