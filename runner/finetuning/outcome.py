"""After fine-tuning: the scores before and after on the search's validation images, the learning-rate search of
phase 2 (``--trials``), and registering the result as a new version only when it is better (or always)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from runner import tracking
from runner.finetuning import unfreeze
from runner.finetuning.config import FinetuneConfig
from runner.finetuning.model import Where, parts
from runner.use.load import LoadedModel

PhaseFit = Callable[[Any, str, int, int, Any], dict[str, list[float]]]  # (model, name, epochs, start, optimizer)


@dataclass(frozen=True)
class Scores:
    metric: str  # the search's metric: log_loss or accuracy
    before: dict[str, float]
    after: dict[str, float]

    @property
    def improvement(self) -> float:
        """> 0: better on the search's metric (accuracy up, or log loss down)."""
        sign = 1.0 if self.metric == "accuracy" else -1.0
        return sign * (self.after[self.metric] - self.before[self.metric])

    def note(self) -> str:
        m = self.metric
        return f"val_{m} {self.before[m]:.4g} -> {self.after[m]:.4g} (better by {self.improvement:+.3g})"


def register_result(
    where: Where, uri: str, model: Any, loaded: LoadedModel, register: str, scores: Scores, ref: str
) -> dict[str, Any]:
    """Log the fine-tuned model on its run; register it as a new version of the search's model when it is better
    (or always), with a note saying by how much."""
    cl, run_id = where.client, where.run_id
    versions = cl.search_model_versions(f"run_id='{loaded.meta['parent_run_id']}'")
    name = versions[0].name if versions else f"{loaded.meta.get('backbone', 'model')}-finetuned"
    do = register == "always" or (register == "if-better" and scores.improvement > 0)
    meta = dict(loaded.meta) | {"finetune_run_id": run_id, "finetuned_from": ref}
    _, version = tracking.log_keras_model(
        uri, run_id, model, loaded.size, model.output_shape[-1], name, meta, register=do
    )
    cl.set_tag(run_id, "registered", "yes" if do else f"no ({'not better' if register == 'if-better' else 'never'})")
    if not do or version is None:
        return {}
    note = scores.note()
    cl.update_model_version(name, str(version), description=f"runner finetune of {ref}: {note}")
    return {"name": name, "version": version, "note": note}


def search_lr(
    inner: Any,
    phase_fit: PhaseFit,
    cfg: FinetuneConfig,
    epochs: int,
    where: Where,
    chosen_of: Callable[[Any], list[Any]],
) -> dict[str, list[float]]:
    """Phase 2 ``cfg.trials`` times from the same phase-1 model, each with its own learning rate (TPE, log scale,
    ``lr``/10 .. ``lr``*10); returns the history of the best (the callback has checkpointed the best model across
    all of them)."""
    import keras
    import optuna

    snapshot = where.ckpt / "phase1.keras"
    inner.save(snapshot)
    histories: dict[int, dict[str, list[float]]] = {}

    def objective(trial: Any) -> float:
        rate = trial.suggest_float("lr", cfg.lr / 10, cfg.lr * 10, log=True)
        model = keras.saving.load_model(snapshot, compile=False)
        backbone, _ = parts(model)
        unfreeze.apply(backbone, chosen_of(backbone))
        hist = phase_fit(model, f"finetune_t{trial.number}", epochs, 0, keras.optimizers.RMSprop(rate))
        histories[trial.number] = hist
        value = float(min(hist.get("val_loss", [np.inf])))
        tracking.log_metrics(where.client, where.run_id, {"trial_lr": rate, "trial_val_loss": value}, trial.number)
        return value

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=cfg.seed), direction="minimize")
    study.optimize(objective, n_trials=cfg.trials)
    best = {"best_lr": study.best_params["lr"], "best_lr_trial": study.best_trial.number}
    tracking.log_params(where.client, where.run_id, best)
    return histories[study.best_trial.number]
