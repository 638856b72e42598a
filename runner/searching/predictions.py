"""A trial's stored predictions: what ensembles, test-time augmentation, calibration and the refit are decided from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from runner.features.rows import Rows
from runner.searching.feed import predict_rows
from runner.searching.train import FitResult

PREDICTIONS = "predictions.npz"  # a trial's validation (out-of-fold) predictions, plain and on mirror images


@dataclass
class Predictions:
    """A trial's predictions on the rows it is scored on (validation rows, or out-of-fold with --folds), plain and
    on the mirror images, and the best epoch of each fit: what ensembles, test-time augmentation, calibration and
    the refit are decided from."""

    proba: np.ndarray
    mirror: np.ndarray | None
    epochs: list[int] = field(default_factory=list)

    @classmethod
    def empty(cls, n: int, n_classes: int, mirrored: bool) -> Predictions:
        width = 1 if n_classes == 2 else n_classes
        return cls(np.zeros((n, width), np.float32), np.zeros((n, width), np.float32) if mirrored else None)

    def put(self, rows: np.ndarray, fit: FitResult, mirror: Rows | None) -> None:
        self.proba[rows] = fit.val_proba
        if self.mirror is not None and mirror is not None:
            self.mirror[rows] = predict_rows(fit.model, mirror)
        self.epochs.append(fit.best_epoch + 1)

    def refit_epochs(self) -> int:
        """Epochs to train on all labelled rows: the mean best epoch of the fits."""
        return max(1, round(float(np.mean(self.epochs))))

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"proba": self.proba, "epochs": np.asarray(self.epochs)}
        return out if self.mirror is None else out | {"mirror": self.mirror}
