"""The Optuna objective: one trial (backbone x head x hyperparameters) on cached features, one MLflow child run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runner.features.rows import DEFAULT_BUDGET_MB, Rows
from runner.plugins.specs import Head
from runner.searching.train import fit_head
from runner.tracking import runs as tracking

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class Arrays:
    """One backbone's features (rows of the cache's files, or in-memory arrays) and labels."""

    x_train: Rows
    y_train: np.ndarray
    x_val: Rows
    y_val: np.ndarray
    n_classes: int
    x_views: Rows | None = None  # augmented views of x_train, one source per view, or None

    def __post_init__(self) -> None:
        self.x_train, self.x_val = Rows.of(self.x_train), Rows.of(self.x_val)
        if self.x_views is not None:
            self.x_views = Rows.views(self.x_views)

    def views(self, k: int) -> Rows | None:
        """The first ``k`` augmented views, or None (k = 0 or no views)."""
        return self.x_views.first(k) if k and self.x_views is not None else None


class Prefixed:
    """A trial whose ``suggest_*`` names are prefixed (``dense.width``): heads never collide in one study."""

    def __init__(self, trial: Any, prefix: str) -> None:
        self._trial, self._prefix = trial, prefix

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._trial, attr)
        if not attr.startswith("suggest_"):
            return target
        return lambda name, *args, **kwargs: target(f"{self._prefix}.{name}", *args, **kwargs)


@dataclass
class Objective:
    heads: dict[str, Head]
    arrays: dict[str, Arrays]  # per backbone
    epochs: int
    seed: int
    metric: str  # "log_loss" | "accuracy"
    client: Any
    experiment_id: str
    parent_run_id: str
    on_event: Event
    sources: dict[str, str] = field(default_factory=dict)
    folds: int = 1  # > 1: stratified K-fold cross-validation on the training features
    repeats: int = 1  # > 1: average this many seeds per split
    budget_mb: float = DEFAULT_BUDGET_MB  # features a fit may hold in memory; more are streamed
    best_weights: dict[int, list[np.ndarray]] = field(default_factory=dict)
    _best_value: float | None = None

    @property
    def maximize(self) -> bool:
        return self.metric == "accuracy"

    def fit(self, choice: dict[str, Any], number: int, hook=None, history=None):
        a = self.arrays[choice["backbone"]]
        head = self.heads[choice["head"]]
        views = choice.get("views", 0)
        return fit_head(
            head,
            choice["params"],
            a.x_train,
            a.y_train,
            a.x_val,
            a.y_val,
            a.n_classes,
            self.epochs,
            self.seed + number,
            on_epoch=hook,
            history=history,
            x_views=a.views(views),
            budget_mb=self.budget_mb,
        )

    @property
    def cross(self) -> bool:
        return self.folds > 1 or self.repeats > 1

    def splits(self, backbone: str, views: int = 0) -> list[tuple[np.ndarray, ...]]:
        """(x_train, y_train, x_val, y_val, x_views or None) per fold; one split without --folds."""
        a = self.arrays[backbone]
        xv = a.views(views)
        if self.folds <= 1:
            return [(a.x_train, a.y_train, a.x_val, a.y_val, xv)]
        from sklearn.model_selection import StratifiedKFold

        cv = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        return [
            (
                a.x_train.subset(tr),
                a.y_train[tr],
                a.x_train.subset(va),
                a.y_train[va],
                None if xv is None else xv.subset(tr),
            )
            for tr, va in cv.split(np.zeros(len(a.y_train)), a.y_train)
        ]

    def cross_fit(self, choice: dict[str, Any], trial: Any, history: dict[str, list[float]]) -> dict[str, float]:
        """Mean (and std) of the metrics over folds x repeats; the running mean is reported after every fit so
        that hopeless trials are pruned after a few folds."""
        import optuna

        head, a = self.heads[choice["head"]], self.arrays[choice["backbone"]]
        runs: list[dict[str, float]] = []
        for r in range(self.repeats):
            for k, (xt, yt, xv, yv, views) in enumerate(self.splits(choice["backbone"], choice.get("views", 0))):
                seed = self.seed + trial.number + 7919 * (r * max(self.folds, 1) + k)
                fit = fit_head(
                    head,
                    choice["params"],
                    xt,
                    yt,
                    xv,
                    yv,
                    a.n_classes,
                    self.epochs,
                    seed,
                    history=history if not runs else None,
                    x_views=views,
                    budget_mb=self.budget_mb,
                )
                runs.append(fit.metrics)
                trial.report(float(np.mean([m[f"val_{self.metric}"] for m in runs])), len(runs) - 1)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after {len(runs)} fit(s)")
        out = {k: float(np.mean([m[k] for m in runs])) for k in runs[0]}
        out |= {f"{k}_std": float(np.std([m[k] for m in runs])) for k in runs[0]}
        return out | {"n_fits": float(len(runs))}

    def choose(self, trial: Any) -> dict[str, Any]:
        """The backbone and head are searched choices only when more than one is given."""
        backbones, heads = list(self.arrays), list(self.heads)
        backbone = trial.suggest_categorical("backbone", backbones) if len(backbones) > 1 else backbones[0]
        head = trial.suggest_categorical("head", heads) if len(heads) > 1 else heads[0]
        params = self.heads[head].suggest(Prefixed(trial, head) if len(heads) > 1 else trial)
        choice = {"backbone": backbone, "head": head, "params": params}
        views = self.arrays[backbone].x_views
        if views is not None:  # whether (and how many) augmented views to train on is searched too
            choice["views"] = trial.suggest_int("augment_views", 0, len(views.sources))
        return choice

    def __call__(self, trial: Any) -> float:
        import keras
        import optuna

        choice = self.choose(trial)
        trial.set_user_attr("choice", choice)
        run_id = tracking.start_child(self.client, self.experiment_id, self.parent_run_id, trial.number)
        trial.set_user_attr("mlflow_run_id", run_id)
        shown = {k: choice[k] for k in ("backbone", "head")} | choice["params"]
        if "views" in choice:
            shown["augment_views"] = choice["views"]
        tracking.log_params(
            self.client,
            run_id,
            shown | {f"{k}_source": self.sources.get(choice[k], "?") for k in ("backbone", "head")},
            new_run=True,
        )
        report_key = "val_accuracy" if self.maximize else "val_loss"
        history: dict[str, list[float]] = {}

        def hook(epoch: int, logs: dict[str, float]) -> None:
            trial.report(logs[report_key], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")

        state = "failed"
        try:
            if self.cross:
                metrics = self.cross_fit(choice, trial, history)
                logged = metrics
            else:
                fit = self.fit(choice, trial.number, hook, history)
                metrics, logged = fit.metrics, {**fit.metrics, "best_epoch": fit.best_epoch}
            value = metrics[f"val_{self.metric}"]
            trial.set_user_attr("history", history)
            trial.set_user_attr("metrics", metrics)
            tracking.log_metrics(self.client, run_id, logged)
            if self._best_value is None or (value > self._best_value if self.maximize else value < self._best_value):
                self._best_value = value
                self.best_weights = {} if self.cross else {trial.number: fit.model.get_weights()}
            state = "complete"
            self.on_event(
                "trial",
                {
                    "number": trial.number,
                    "params": shown,
                    "metrics": metrics,
                    "state": state,
                    "best_value": self._best_value,
                },
            )
            return value
        except optuna.TrialPruned:
            state = "pruned"
            self.on_event(
                "trial",
                {
                    "number": trial.number,
                    "params": shown,
                    "metrics": {},
                    "state": state,
                    "epochs": len(history.get("loss", [])),
                    "best_value": self._best_value,
                },
            )
            raise
        finally:
            tracking.log_history(self.client, run_id, history)
            tracking.end_run(self.client, run_id, state)
            keras.backend.clear_session()  # memory stays flat however many trials run
