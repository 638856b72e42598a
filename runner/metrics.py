"""Classification metrics from predicted probabilities (log loss, accuracy, ROC AUC for two classes), and their
calibration: temperature scaling (as runner's Blend layer applies it), fitting the temperature, expected
calibration error."""

from __future__ import annotations

import numpy as np


def as_matrix(proba: np.ndarray, n_classes: int) -> np.ndarray:
    """Sigmoid output (n, 1) -> (n, 2); softmax output unchanged."""
    proba = np.asarray(proba, dtype=np.float64)
    if n_classes == 2 and (proba.ndim == 1 or proba.shape[1] == 1):
        p = proba.reshape(-1)
        return np.stack([1.0 - p, p], axis=1)
    return proba


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, n_classes: int, eps: float = 1e-7
) -> dict[str, float]:
    from sklearn.metrics import log_loss, roc_auc_score

    p = np.clip(as_matrix(proba, n_classes), eps, 1 - eps)
    p = p / p.sum(axis=1, keepdims=True)
    out = {
        "log_loss": float(log_loss(y_true, p, labels=list(range(n_classes)))),
        "accuracy": float(np.mean(np.argmax(p, axis=1) == y_true)),
    }
    if n_classes == 2 and len(np.unique(y_true)) == 2:
        out["roc_auc"] = float(roc_auc_score(y_true, p[:, 1]))
    return out


EPS = 1e-7


def scale(p: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities (sigmoid column or softmax rows), as the model's Blend layer does."""
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    if p.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-(np.log(p) - np.log1p(-p)) / temperature))
    z = np.log(p) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def fit_temperature(p: np.ndarray, y: np.ndarray, n_classes: int, bounds: tuple[float, float] = (0.25, 4.0)) -> float:
    """The temperature in ``bounds`` that minimises log loss on (p, y)."""
    from scipy.optimize import minimize_scalar

    def loss(log_t: float) -> float:
        return classification_metrics(y, scale(p, float(np.exp(log_t))), n_classes)["log_loss"]

    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    return float(np.exp(minimize_scalar(loss, bounds=(lo, hi), method="bounded").x))


def checked_temperature(
    p: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    folds: int = 5,
    seed: int = 0,
    min_errors: int = 5,
    soften_only: bool = False,
) -> float:
    """A temperature fitted on (p, y), or 1.0 unless it lowers log loss on held-out rows: fitted on the other
    folds and scored on each fold in turn. With fewer than ``min_errors`` misclassified rows (or ``soften_only``)
    it may only soften (T >= 1): on nearly separable rows a fitted temperature would sharpen without limit, and the
    first mistake on new images would cost the more for it."""
    from sklearn.model_selection import StratifiedKFold

    if len(y) < 2 * folds or np.bincount(y, minlength=n_classes).min() < folds:
        return 1.0
    errors = int(np.sum(as_matrix(p, n_classes).argmax(axis=1) != y))
    bounds = (0.5, 4.0) if errors >= min_errors and not soften_only else (1.0, 4.0)
    held, plain = 0.0, 0.0
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        t = fit_temperature(p[tr], y[tr], n_classes, bounds)
        held += classification_metrics(y[te], scale(p[te], t), n_classes)["log_loss"] * len(te)
        plain += classification_metrics(y[te], p[te], n_classes)["log_loss"] * len(te)
    return fit_temperature(p, y, n_classes, bounds) if held < plain else 1.0


def ece(p: np.ndarray, y: np.ndarray, n_classes: int, bins: int = 15) -> float:
    """Expected calibration error of the top-class confidence, ``bins`` equal-width bins."""
    m = as_matrix(p, n_classes)
    conf, hit = m.max(axis=1), (m.argmax(axis=1) == y).astype(float)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(hit[which == b].mean() - conf[which == b].mean()) * np.mean(which == b) for b in set(which)))
