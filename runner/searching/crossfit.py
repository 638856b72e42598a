"""Cross-validated trials (``--folds``, ``--repeats``): the folds, and a trial's mean metrics over its fits with
the out-of-fold predictions."""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import interrupts
from runner.searching.arrays import Arrays
from runner.searching.choice import Choice
from runner.searching.predictions import Predictions


def splits(a: Arrays, folds: int, seed: int, views: int = 0) -> list[tuple[Any, ...]]:
    """(x_train, y_train, x_val, y_val, x_views or None, validation rows of x_train or None) per fold; one
    split without --folds."""
    xv = a.views(views)
    if folds <= 1:
        return [(a.x_train, a.y_train, a.x_val, a.y_val, xv, None)]
    from sklearn.model_selection import StratifiedKFold

    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [
        (
            a.x_train.subset(tr),
            a.y_train[tr],
            a.x_train.subset(va),
            a.y_train[va],
            None if xv is None else xv.subset(tr),
            va,
        )
        for tr, va in cv.split(np.zeros(len(a.y_train)), a.y_train)
    ]


def cross_fit(
    objective: Any, choice: Choice, trial: Any, history: dict[str, list[float]]
) -> tuple[dict[str, float], Predictions]:
    """Mean (and std) of the metrics over folds x repeats, and the first repeat's out-of-fold predictions; the
    running mean is reported after every fit so that hopeless trials are pruned after a few folds. ``objective``:
    the :class:`runner.searching.objective.Objective` calling it (not imported here: no import cycle)."""
    import optuna

    cfg = objective.config
    a = objective.features(choice)
    runs: list[dict[str, float]] = []
    scored = len(a.y_train) if cfg.folds > 1 else len(a.y_val)
    oof = Predictions.empty(scored, a.n_classes, a.mirror is not None)
    for r in range(cfg.repeats):
        for k, (xt, yt, xv, yv, views, va) in enumerate(splits(a, cfg.folds, cfg.seed, choice.views or 0)):
            seed = cfg.seed + trial.number + 7919 * (r * max(cfg.folds, 1) + k)
            fit = objective.fit(choice, xt, yt, xv, yv, seed, history=history if not runs else None, views=views)
            runs.append(fit.metrics)
            if r == 0:
                rows = va if va is not None else np.arange(len(yv))
                mirror = None if a.mirror is None else a.mirror.subset(rows)
                oof.put(rows, fit, mirror)
            interrupts.check()
            trial.report(float(np.mean([m[f"val_{cfg.metric}"] for m in runs])), len(runs) - 1)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after {len(runs)} fit(s)")
    out = {k: float(np.mean([m[k] for m in runs])) for k in runs[0]}
    out |= {f"{k}_std": float(np.std([m[k] for m in runs])) for k in runs[0]}
    return out | {"n_fits": float(len(runs))}, oof
