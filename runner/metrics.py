"""Classification metrics from predicted probabilities (log loss, accuracy, ROC AUC for two classes)."""

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
