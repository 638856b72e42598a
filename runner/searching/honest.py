"""Honest predictions to decide the blend on: the candidates cross-fitted on all labelled rows.

A trial's validation predictions are optimistic: it early-stopped on those rows, and the best trials were picked on
them (2,000 photos, 5 splits: the best trial's validation log loss 0.0857, on unseen images 0.1025), while the
probe's are not (its C comes from the training rows). Decided on them, the blend passed the probe over on every split
where it was the better model on unseen images. Here each candidate (the best trials the refit can train, and the
probe) is trained as its refit will be, on 2/3 of all labelled rows (training + validation), for its refit epochs with
no early stop (the probe: with its C), and predicts the third it never saw; three fits give every labelled row one
out-of-fold prediction per candidate. Members and weights are chosen on all of them; test-time mirror and temperature
on the validation rows' (whose mirror images are cached). Small data only: after successive halving there are no
refit epochs, and thousands of validation rows leave little optimism to correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from runner.metrics import classification_metrics
from runner.searching.arrays import Arrays
from runner.searching.choice import Choice
from runner.searching.ensemble import score_key
from runner.searching.feed import predict_rows
from runner.searching.objective import Objective
from runner.searching.probe import PROBE, Probe, choose_c, fit

CANDIDATES = 4  # the best trials (by validation score) cross-fitted beside the probe
SEED_STRIDE = 7919  # each fold's fit has its own seed


@dataclass
class Honest:
    """Out-of-fold predictions of every candidate: ``plain`` on all labelled rows (training rows, then validation
    rows), ``mirror`` on the validation rows' mirror images (empty without them); the probe fitted on the training
    rows (with the C chosen on all labelled rows), when it is a candidate."""

    plain: dict[int, np.ndarray]
    mirror: dict[int, np.ndarray]
    y: np.ndarray
    val: np.ndarray  # positions of the validation rows among the labelled rows
    probe: Probe | None = None

    def best(self, n_classes: int, metric: str) -> int:
        """The candidate that scores best alone (the blend starts there)."""

        def scored(t: int) -> tuple[tuple[float, float], int]:
            return score_key(classification_metrics(self.y, self.plain[t], n_classes), metric), t

        return min(self.plain, key=scored)


def candidates(objective: Objective, done: list[Any], size: int, sizes: dict[str, int]) -> list[Any]:
    """The best trials by validation score that the refit can train blind (plain features, refit epochs known,
    the blend's input size), at most :data:`CANDIDATES`."""
    ranked = sorted(done, key=lambda t: -t.value if objective.maximize else t.value)
    fit = [
        t
        for t in ranked
        if "refit_epochs" in t.user_attrs and not Choice.of(t).views and sizes.get(Choice.of(t).backbone) == size
    ]
    return fit[:CANDIDATES]


def folds(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds of the labelled rows (fewer when a class has fewer rows than ``k``)."""
    from sklearn.model_selection import StratifiedKFold

    k = max(2, min(k, int(np.bincount(y).min())))
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _val_rows(va: np.ndarray, n_train: int) -> np.ndarray:
    """The validation rows among held-out positions ``va`` (as indices of the validation rows)."""
    return va[va >= n_train] - n_train


def predictions(objective: Objective, trials: list[Any], probe_rows: Arrays | None, k: int, backbone: str) -> Honest:
    """Every candidate's out-of-fold predictions in ``k`` folds (see the module's docstring); the labels and the
    blend's input are ``backbone``'s; ``probe_rows``: the probe's averaged features of it, or None for no probe."""
    import keras

    from runner import memory

    first = objective.arrays[backbone]
    n_train = len(first.y_train)
    y = np.concatenate([first.y_train, first.y_val])
    seed = objective.config.seed
    parts = folds(y, k, seed)
    width = 1 if first.n_classes == 2 else first.n_classes
    out = Honest({}, {}, y, np.arange(n_train, len(y)))
    mirrored = first.mirror is not None
    for t in trials:
        choice = Choice.of(t)
        a = objective.features(choice)
        x = a.x_train.concat(a.x_val)
        plain, mirror = np.zeros((len(y), width)), np.zeros((len(a.y_val), width))
        epochs = int(t.user_attrs["refit_epochs"])
        for i, (tr, va) in enumerate(parts):
            fold_seed = seed + t.number + SEED_STRIDE * (i + 1)
            fitted = objective.fit(choice, x.subset(tr), y[tr], None, None, fold_seed, epochs)
            plain[va] = predict_rows(fitted.model, x.subset(va))
            rows = _val_rows(va, n_train)
            if mirrored and a.mirror is not None and len(rows):
                mirror[rows] = predict_rows(fitted.model, a.mirror.subset(rows))
            del fitted
            keras.backend.clear_session(free_memory=False)
        out.plain[t.number] = plain
        if mirrored:
            out.mirror[t.number] = mirror
    memory.release()  # once: a collection costs 0.4 s with TensorFlow loaded
    if probe_rows is not None:
        out.probe = _probe(probe_rows, y, parts, n_train, out, seed)
        out.probe.backbone = backbone
    return out


def _probe(a: Arrays, y: np.ndarray, parts: list, n_train: int, out: Honest, seed: int) -> Probe:
    """The probe's out-of-fold predictions into ``out``; returns it fitted on the training rows with the C chosen
    by cross-validation on all labelled rows."""
    x = a.x_train.concat(a.x_val).read()
    c = choose_c(x, y, seed, folds=len(parts))  # 3 folds: half the time of 5, the same C on 2,000 photos
    width = 1 if a.n_classes == 2 else a.n_classes
    plain, mirror = np.zeros((len(y), width)), np.zeros((len(a.y_val), width))
    for tr, va in parts:
        part = fit(x[tr], y[tr], c, overwrite=True)  # x[tr] is a copy: standardized in place
        plain[va] = part.proba(x[va])
        rows = _val_rows(va, n_train)
        if a.mirror is not None and len(rows):
            mirror[rows] = part.proba(a.mirror.subset(rows).read())
    out.plain[PROBE] = plain
    if a.mirror is not None:
        out.mirror[PROBE] = mirror
    return fit(x[:n_train], y[:n_train], c, overwrite=True)  # x's last use: standardized in place
