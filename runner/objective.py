"""The Optuna objective: one head trial on cached features, logged as one nested MLflow child run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runner import tracking
from runner.specs import Head
from runner.train import fit_head

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class Arrays:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int


@dataclass
class Objective:
    head: Head
    arrays: Arrays
    epochs: int
    seed: int
    metric: str  # "log_loss" | "accuracy"
    client: Any
    experiment_id: str
    parent_run_id: str
    on_event: Event
    best_weights: dict[int, list[np.ndarray]] = field(default_factory=dict)
    _best_value: float | None = None

    @property
    def maximize(self) -> bool:
        return self.metric == "accuracy"

    def trial_seed(self, number: int) -> int:
        return self.seed + number

    def fit(self, params: dict[str, Any], number: int, hook=None, history=None):
        a = self.arrays
        return fit_head(
            self.head,
            params,
            a.x_train,
            a.y_train,
            a.x_val,
            a.y_val,
            a.n_classes,
            self.epochs,
            self.trial_seed(number),
            on_epoch=hook,
            history=history,
        )

    def __call__(self, trial: Any) -> float:
        import keras
        import optuna

        params = self.head.suggest(trial)
        run_id = tracking.start_child(self.client, self.experiment_id, self.parent_run_id, trial.number)
        trial.set_user_attr("mlflow_run_id", run_id)
        tracking.log_params(self.client, run_id, {"head": self.head.name, **params})
        report_key = "val_accuracy" if self.maximize else "val_loss"
        history: dict[str, list[float]] = {}

        def hook(epoch: int, logs: dict[str, float]) -> None:
            trial.report(logs[report_key], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")

        state = "failed"
        try:
            fit = self.fit(params, trial.number, hook, history)
            value = fit.metrics[f"val_{self.metric}"]
            trial.set_user_attr("history", history)
            trial.set_user_attr("metrics", fit.metrics)
            trial.set_user_attr("best_epoch", fit.best_epoch)
            tracking.log_metrics(self.client, run_id, {**fit.metrics, "best_epoch": fit.best_epoch})
            if self._best_value is None or (value > self._best_value if self.maximize else value < self._best_value):
                self._best_value = value
                self.best_weights = {trial.number: fit.model.get_weights()}
            state = "complete"
            self.on_event(
                "trial",
                {
                    "number": trial.number,
                    "params": params,
                    "metrics": fit.metrics,
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
                    "params": params,
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
