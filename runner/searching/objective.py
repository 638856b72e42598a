"""The Optuna objective: one trial (backbone x head x hyperparameters) on cached features, one MLflow child run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runner import interrupts, memory, tracking
from runner.plugins.specs import Head
from runner.searching.arrays import Arrays, Prefixed
from runner.searching.choice import ATTR, Choice
from runner.searching.config import SearchConfig
from runner.searching.crossfit import cross_fit
from runner.searching.feed import OverBudget
from runner.searching.kept import KeptWeights, weight_tensors
from runner.searching.predictions import PREDICTIONS, Predictions
from runner.searching.rungs import END, STRIDE, Rung, first_rows, rungs
from runner.searching.train import EpochHook, FitResult, fit_head

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class Objective:
    """Optuna's objective: builds a :class:`Choice` per trial, fits it (or cross-validates it) on cached features,
    logs the trial's MLflow child run and keeps the best head's weights trained in this process."""

    config: SearchConfig
    heads: dict[str, Head]
    arrays: dict[str, Arrays]  # per backbone
    client: Any
    experiment_id: str
    parent_run_id: str
    on_event: Event
    sources: dict[str, str] = field(default_factory=dict)
    kept: KeptWeights = field(default_factory=KeptWeights)  # the best trials' heads trained here, on disk
    best_value: float | None = None  # the study's best so far (earlier runs of a resumed study included)
    reserved: bool = False  # whether --memory-budget is reserved in TensorFlow's allocator (reserve())
    _rungs: dict[str, list[Rung]] = field(default_factory=dict, repr=False)

    @property
    def maximize(self) -> bool:
        return self.config.maximize

    @property
    def cross(self) -> bool:
        return self.config.folds > 1 or self.config.repeats > 1

    def __post_init__(self) -> None:
        self.kept = KeptWeights(self.config.ensemble, self.config.maximize)

    def reserve(self) -> None:
        """Before this process's first fit: --memory-budget reserved in TensorFlow's allocator (see
        :func:`runner.memory.reserve`), so that every fit's state and feature rows reuse the same memory."""
        if not self.reserved:
            memory.reserve(int(self.config.memory_budget * 2**20))
            self.reserved = True

    def pools(self, choice: Choice) -> bool:
        """Whether the trial trains on averaged features: its head only averages the map (:meth:`Head.pools`)."""
        a = self.arrays[choice.backbone]
        return len(a.x_train.shape) == 4 and self.heads[choice.head].pools(choice.params)

    def features(self, choice: Choice) -> Arrays:
        """What the trial trains on: its backbone's features, averaged over the map once when :meth:`pools`."""
        a = self.arrays[choice.backbone]
        return a.averaged() if self.pools(choice) else a

    def full(self, choice: Choice, model: Any) -> Any:
        """The trial's head taking its backbone's whole feature map (the same weights when it trained on averages)."""
        if not self.pools(choice):
            return model
        head, shape = self.heads[choice.head], self.arrays[choice.backbone].x_train.shape[1:]
        out = head.build(tuple(shape), self.arrays[choice.backbone].n_classes, dict(choice.params))
        out.set_weights(model.get_weights())
        return out

    def rungs(self, backbone: str) -> list[Rung]:
        """The search's rungs of training rows for this backbone (one rung, all rows, without --halving)."""
        if backbone not in self._rungs:
            cfg, a = self.config, self.arrays[backbone]
            first = first_rows(cfg.halving, len(a.y_train), cfg.folds, cfg.repeats)
            self._rungs[backbone] = rungs(a.y_train, a.y_val, first, cfg.seed)
        return self._rungs[backbone]

    def fit_rung(
        self,
        choice: Choice,
        number: int,
        rung: Rung | None = None,
        hook: Any = None,
        history: dict | None = None,
        initial: list[Any] | None = None,
        epochs: int | None = None,
    ) -> FitResult:
        """The trial's head fitted on all training rows (or on one rung's), validated on the validation rows (or on
        the rung's), starting from ``initial`` weights when given (the last rung's)."""
        a = self.features(choice)
        views = a.views(choice.views or 0)
        xt, yt, xv, yv = a.x_train, a.y_train, a.x_val, a.y_val
        if rung is not None and len(rung.train) < len(yt):
            xt, yt, xv, yv = xt.subset(rung.train), yt[rung.train], xv.subset(rung.val), yv[rung.val]
            views = None if views is None else views.subset(rung.train)
        seed = self.config.seed + number
        return self.fit(choice, xt, yt, xv, yv, seed, epochs, hook, history, views, initial)

    def fit(
        self,
        choice: Choice,
        xt: Any,
        yt: np.ndarray,
        xv: Any,
        yv: np.ndarray | None,
        seed: int,
        epochs: int | None = None,
        hook: Any = None,
        history: dict | None = None,
        views: Any = None,
        initial: list[Any] | None = None,
    ) -> FitResult:
        """The trial's head fitted on these rows (validated on ``xv`` when given) within --memory-budget, for
        ``epochs`` (default --epochs): every fit of a search (trials, rungs, folds, refits) is this one."""
        self.reserve()
        return fit_head(
            self.heads[choice.head],
            choice.params,
            xt,
            yt,
            xv,
            yv,
            self.arrays[choice.backbone].n_classes,
            epochs or self.config.epochs,
            seed,
            on_epoch=hook,
            history=history,
            x_views=views,
            budget_mb=self.config.memory_budget,
            initial=initial,
        )

    def climb(
        self,
        choice: Choice,
        number: int,
        trial: Any = None,
        hook: Any = None,
        history: dict | None = None,
        logged: dict[str, float] | None = None,
    ) -> FitResult:
        """The trial's fit, rung by rung (one rung, all rows, without successive halving). A rung below the last
        starts from the last rung's best weights, for the rung's epochs (:meth:`Rung.epochs`): cheap, it only has
        to rank the trial. The last rung (all rows) trains from scratch for ``--epochs`` with early stopping, as a
        trial without successive halving: a warm-started last rung under-trained its finalists (measured: 0.1111 vs
        0.0957 log loss for one configuration on 25,000 images). With ``trial``, each lower rung's score is reported
        at its end and the trial is pruned unless among the best third there (Optuna's ``TrialPruned``); without,
        trial ``number``'s head is trained again exactly as the search trained it (the last rung alone)."""
        import optuna

        steps = self.rungs(choice.backbone)
        last = len(steps) - 1
        history = {} if history is None else history
        initial, used = None, None
        for r in range(0 if trial is not None else last, len(steps)):
            rung = steps[r]
            history.clear()
            if r == last:
                return self.fit_rung(choice, number, rung, None if hook is None else hook(r), history)
            epochs = rung.epochs(steps[0], self.config.epochs, used)
            fit = self.fit_rung(choice, number, rung, None if hook is None else hook(r), history, initial, epochs)
            value = fit.metrics[f"val_{self.config.metric}"]
            initial = weight_tensors(fit.model)  # the next rung starts here (tensors: no NumPy copy)
            used = used or len(fit.history.get("loss", [])) or self.config.epochs  # epochs run on the first rung
            del fit
            memory.release()  # the last rung's model, gradients and optimizer slots go before the next rung's come
            if logged is not None:
                logged |= {f"rung{r}_val_{self.config.metric}": value, f"rung{r}_rows": float(len(rung.train))}
            interrupts.check()
            trial.report(value, r * STRIDE + END)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after rung {r + 1} of {len(steps)} ({len(rung.train)} rows)")
        raise AssertionError("no rung")  # pragma: no cover (rungs() is never empty)

    def choose(self, trial: Any) -> Choice:
        """The backbone and head are searched choices only when more than one is given."""
        backbones, heads = list(self.arrays), list(self.heads)
        backbone = trial.suggest_categorical("backbone", backbones) if len(backbones) > 1 else backbones[0]
        head = trial.suggest_categorical("head", heads) if len(heads) > 1 else heads[0]
        params = self.heads[head].suggest(Prefixed(trial, head) if len(heads) > 1 else trial)
        views = self.arrays[backbone].x_views
        # whether (and how many) augmented views to train on is searched too
        n_views = trial.suggest_int("augment_views", 0, len(views.sources)) if views is not None else None
        return Choice(backbone, head, params, n_views)

    def _event(self, trial: Any, shown: dict[str, Any], metrics: dict[str, float], state: str, **extra: Any) -> None:
        payload = {"number": trial.number, "params": shown, "metrics": metrics, "state": state}
        self.on_event("trial", payload | extra | {"best_value": self.best_value})

    def __call__(self, trial: Any) -> float:
        import keras
        import optuna

        choice = self.choose(trial)
        trial.set_user_attr(ATTR, choice.to_attrs())
        run_id = tracking.start_child(self.client, self.experiment_id, self.parent_run_id, trial.number)
        trial.set_user_attr("mlflow_run_id", run_id)
        shown = choice.shown()
        sources = {
            f"{k}_source": self.sources.get(v, "?") for k, v in (("backbone", choice.backbone), ("head", choice.head))
        }
        tracking.log_params(self.client, run_id, shown | sources, new_run=True)
        report_key = "val_accuracy" if self.maximize else "val_loss"
        history: dict[str, list[float]] = {}

        def hook(rung: int) -> EpochHook:
            def report(epoch: int, logs: dict[str, float]) -> None:
                interrupts.check()
                trial.report(logs[report_key], rung * STRIDE + epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")

            return report

        try:
            stopped = {optuna.TrialPruned: "KILLED", KeyboardInterrupt: "KILLED"}  # pruned, or stopped by Ctrl+C
            with tracking.ending(self.client, run_id, special=stopped, tag_state=True):
                logged: dict[str, float] = {}
                try:
                    return self._score(trial, choice, shown, run_id, hook, history, logged)
                except OverBudget as err:  # a head this size cannot train within --memory-budget: never run
                    trial.set_user_attr("over_budget_mib", round(err.needed / 2**20))
                    self.on_event("warning", {"message": f"trial {trial.number}: {err}"})
                    self._event(trial, shown, {}, "pruned", epochs=0, reason="too large for --memory-budget")
                    err.__traceback__ = None  # its frames hold the built head: let them go now (see below)
                    raise optuna.TrialPruned(str(err)) from None
                except optuna.TrialPruned as err:
                    epochs = len(history.get("loss", []))
                    self._event(trial, shown, {}, "pruned", epochs=epochs, reason=str(err) or "pruned")
                    # a pruned trial is control flow, not an error: without its traceback, the frames below (the
                    # fit's features buffer, head, optimizer state, the last rung's weights) are freed now, not
                    # whenever Optuna's handling of the exception is collected (during a later trial, on top of it)
                    raise err.with_traceback(None)  # noqa: B904
                finally:
                    tracking.log_history(self.client, run_id, history)
                    if logged:
                        tracking.log_metrics(self.client, run_id, logged)
        finally:
            # memory stays flat however many trials run; one garbage collection (0.5 s with TensorFlow loaded), in
            # release(), where clearing the session and Optuna's gc_after_trial each made their own
            keras.backend.clear_session(free_memory=False)
            memory.release()

    def _score(
        self, trial: Any, choice: Choice, shown: dict, run_id: str, hook: Any, history: dict, logged: dict
    ) -> float:
        a = self.features(choice)
        if self.cross:
            metrics, preds = cross_fit(self, choice, trial, history)
            logged |= metrics
        else:
            fit = self.climb(choice, trial.number, trial, hook, history, logged)
            metrics = fit.metrics
            logged |= {**fit.metrics, "best_epoch": fit.best_epoch}
            preds = Predictions.empty(len(a.y_val), a.n_classes, a.mirror is not None)
            preds.put(np.arange(len(a.y_val)), fit, a.mirror)
        if len(self.rungs(choice.backbone)) == 1:  # not after halving: on >= 7,500 training rows the validation
            trial.set_user_attr("refit_epochs", preds.refit_epochs())  # rows add little, and cost a whole fit
        tracking.log_arrays(self.client, run_id, PREDICTIONS, preds.arrays())
        value = metrics[f"val_{self.config.metric}"]
        trial.set_user_attr("history", history)
        trial.set_user_attr("metrics", metrics)
        best = self.best_value
        if best is None or (value > best if self.maximize else value < best):
            self.best_value = value
        if not self.cross:
            self.kept.keep(trial.number, value, fit.model)
        self._event(trial, shown, metrics, "complete")
        return value
