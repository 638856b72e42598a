"""``runner.finetune()``: the recipe's last stage on a finished search.

The search's registered end-to-end model (its best backbone and head, the head already trained) gets Keras
augmentation layers in front; phase 1 trains the head with the base frozen, phase 2 unfreezes the top of the base
(BatchNormalization kept frozen, in inference mode) at a low learning rate; both stop early on validation loss.
Images stream from disk. The run is a child of the search's parent run; a new model version is registered only if
it beats the search's model on the same validation images (``register="always"`` overrides).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runner.errors import RunnerError
from runner.features.augment import Policy
from runner.finetuning import unfreeze
from runner.finetuning.data import Split, evaluate_model, load_split
from runner.finetuning.model import augmented, parts, previous, watch
from runner.plugins.registry import get_head
from runner.tracking import runs as tracking
from runner.use.load import load

Event = Callable[[str, dict[str, Any]], None]
REGISTER = ("if-better", "always", "never")


@dataclass
class FinetuneResult:
    run_id: str
    parent_run_id: str
    source: str
    metric: str
    before: dict[str, float]
    after: dict[str, float]
    improvement: float  # > 0: better on the search's metric (accuracy up, or log loss down)
    registered: dict[str, Any]
    unfrozen: list[str]
    epochs: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    checkpoint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def finetune(
    source: str,
    *,
    unfreeze_layers: int | None = None,
    unfreeze_blocks: int | None = None,
    lr: float = 1e-5,
    head_lr: float | None = None,
    head_epochs: int = 5,
    epochs: int = 20,
    patience: int = 3,
    batch_size: int = 16,
    augment_policy: str | None = None,
    register: str = "if-better",
    trials: int = 0,
    resume: bool = False,
    seed: int = 0,
    tracking_uri: str | None = None,
    on_event: Event | None = None,
) -> FinetuneResult:
    """Fine-tune a search's model (``source``: its parent run id or its registered model URI).

    ``trials`` > 1: phase 2 is run that many times from the phase-1 model, with learning rates searched
    (TPE, log scale) between ``lr``/10 and ``lr``*10; the best run by validation loss is kept."""

    emit: Event = on_event or (lambda kind, payload: None)
    _check(register, lr, head_lr, head_epochs, epochs, patience, batch_size, trials, unfreeze_layers, unfreeze_blocks)
    policy = Policy.parse(augment_policy)
    uri = tracking.tracking_uri(tracking_uri)
    cl = tracking.client(uri)
    ref = f"runs:/{source}/model" if re.fullmatch(r"[0-9a-f]{32}", source) else source
    loaded = load(ref, uri)  # checks the reference before TensorFlow is imported
    import keras

    parent_id = loaded.meta.get("parent_run_id")
    if not parent_id or "head" not in loaded.meta:
        raise RunnerError(
            "not a model from a runner search",
            received=source,
            expected="a search's parent run id or its registered model (models:/NAME/VERSION)",
            fix="pass the parent run id printed by `runner search`",
        )
    parent = cl.get_run(parent_id)
    metric = parent.data.params.get("metric", "log_loss")
    split: Split = load_split(cl, parent)
    size, n_classes = loaded.size, len(loaded.classes)
    t0 = time.perf_counter()
    before = evaluate_model(loaded.model, split, size, batch_size)
    root = tracking.local_root(uri).resolve() / "finetune"
    prev = previous(cl, parent.info.experiment_id, parent_id, root) if resume else None
    if prev is None:
        run = cl.create_run(
            parent.info.experiment_id,
            run_name="finetune",
            tags={"mlflow.parentRunId": parent_id, "runner": "finetune", "source": ref},
        )
        # the search's model is the score to beat: a checkpoint is written only when an epoch improves on it
        run_id, state = run.info.run_id, {"phase": "head", "epoch": 0, "best_val_loss": before["log_loss"]}
    else:
        run_id, state = prev
        cl.update_run(run_id, status="RUNNING")
        if (root / run_id / "model.keras").is_file():  # the best so far; else the search's model still is
            loaded.model = keras.saving.load_model(root / run_id / "model.keras", compile=False)
    ckpt = root / run_id
    ckpt.mkdir(parents=True, exist_ok=True)
    backbone, head_model = parts(loaded.model)

    def chosen_of(bb: Any) -> list[Any]:
        return unfreeze.select(bb, unfreeze_layers, unfreeze_blocks)

    chosen = chosen_of(backbone)
    tracking.log_params(
        cl,
        run_id,
        {
            "source": ref,
            "unfreeze": unfreeze_layers,
            "unfreeze_blocks": unfreeze_blocks if unfreeze_layers is None else None,
            "unfrozen_layers": len(chosen),
            "lr": lr,
            "head_lr": head_lr,
            "trials": trials,
            "head_epochs": head_epochs,
            "epochs": epochs,
            "patience": patience,
            "batch_size": batch_size,
            "augment_policy": policy.as_dict(),
            "n_train": len(split.train_rows),
            "n_val": len(split.val_rows),
        },
        new_run=prev is None,
    )
    tracking.log_metrics(cl, run_id, {f"before_val_{k}": v for k, v in before.items()})
    train = split.stream("train", size, batch_size, n_classes == 2, seed)
    val = split.stream("val", size, batch_size, n_classes == 2)
    loss = "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"
    best = [float(state["best_val_loss"])]

    def phase_fit(inner: Any, name: str, n_epochs: int, start: int, optimizer: Any) -> dict[str, list[float]]:
        model = augmented(inner, size, policy)
        keras.utils.set_random_seed(seed)
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        cb = watch(name, n_epochs, emit, cl, run_id, inner, ckpt, best, start)
        stop = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
        fit_args = {"epochs": n_epochs, "initial_epoch": start, "callbacks": [cb, stop], "verbose": 0}
        model.fit(train, validation_data=val, shuffle=False, **fit_args)  # the stream shuffles itself
        return cb.history

    history: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    ran: dict[str, int] = {}
    try:
        for phase, n_epochs in (("head", head_epochs), ("finetune", epochs)):
            start = state["epoch"] if state["phase"] == phase else 0
            if start >= n_epochs or (phase == "head" and state["phase"].startswith("finetune")):
                continue  # nothing to do, or done before an interruption
            t = time.perf_counter()
            if phase == "head":
                backbone.trainable = False
                head_model.trainable = True
                head_params = dict(loaded.meta.get("params", {}))
                if "learning_rate" in head_params:  # a warm head: the best trial's rate / 10, or --head-lr
                    head_params["learning_rate"] = head_lr or float(head_params["learning_rate"]) / 10
                optimizer = get_head(loaded.meta["head"]).optimizer(head_params)
                hist = phase_fit(loaded.model, phase, n_epochs, start, optimizer)
            elif trials > 1 and prev is None:
                hist = _search_lr(loaded.model, phase_fit, trials, lr, n_epochs, seed, cl, run_id, ckpt, chosen_of)
            else:
                unfreeze.apply(backbone, chosen)
                hist = phase_fit(loaded.model, phase, n_epochs, start, keras.optimizers.RMSprop(lr))
            seconds[phase] = round(time.perf_counter() - t, 3)
            ran[phase] = len(hist.get("loss", []))
            for k, v in hist.items():
                history.setdefault(k, []).extend(v)
    except BaseException:
        cl.set_terminated(run_id, status="KILLED")
        raise
    # no epoch beat the search's model: the result is that model, unchanged
    saved = ckpt / "model.keras"
    best_model = keras.saving.load_model(saved, compile=False) if saved.is_file() else load(ref, uri).model
    after = evaluate_model(best_model, split, size, batch_size)
    sign = 1.0 if metric == "accuracy" else -1.0
    improvement = sign * (after[metric] - before[metric])
    tracking.log_metrics(cl, run_id, {f"val_{k}": v for k, v in after.items()} | {"improvement": improvement})
    tracking.learning_curves(cl, run_id, history)
    registered = _register(cl, uri, run_id, best_model, loaded, register, metric, before, after, improvement, ref)
    seconds["total"] = round(time.perf_counter() - t0, 3)
    cl.set_terminated(run_id, status="FINISHED")
    return FinetuneResult(
        run_id,
        parent_id,
        ref,
        metric,
        before,
        after,
        improvement,
        registered,
        [layer.name for layer in chosen],
        ran,
        seconds,
        str(ckpt),
    )


def _register(cl, uri, run_id, model, loaded, register, metric, before, after, improvement, ref) -> dict[str, Any]:
    """Log the fine-tuned model on its run; register it as a new version of the search's model when it is better
    (or always), with a note saying by how much."""
    versions = cl.search_model_versions(f"run_id='{loaded.meta['parent_run_id']}'")
    name = versions[0].name if versions else f"{loaded.meta.get('backbone', 'model')}-finetuned"
    do = register == "always" or (register == "if-better" and improvement > 0)
    meta = dict(loaded.meta) | {"finetune_run_id": run_id, "finetuned_from": ref}
    _, version = tracking.log_keras_model(
        uri, run_id, model, loaded.size, model.output_shape[-1], name, meta, register=do
    )
    note = f"val_{metric} {before[metric]:.4g} -> {after[metric]:.4g} (better by {improvement:+.3g})"
    cl.set_tag(run_id, "registered", "yes" if do else f"no ({'not better' if register == 'if-better' else 'never'})")
    if not do or version is None:
        return {}
    cl.update_model_version(name, str(version), description=f"runner finetune of {ref}: {note}")
    return {"name": name, "version": version, "note": note}


def _check(register, lr, head_lr, head_epochs, epochs, patience, batch_size, trials, layers, blocks) -> None:
    from runner.searching.config import check

    check(register in REGISTER, "bad --register", register, " | ".join(REGISTER), "pass --register if-better")
    check(isinstance(lr, float) and 0 < lr < 1, "bad --lr", lr, "a learning rate in (0, 1)", "pass e.g. --lr 1e-5")
    for name, v in (("head-epochs", head_epochs), ("epochs", epochs)):
        check(isinstance(v, int) and v >= 0, f"bad --{name}", v, "an integer >= 0", f"pass e.g. --{name} 5")
    check(head_lr is None or 0 < head_lr < 1, "bad --head-lr", head_lr, "a learning rate in (0, 1)", "pass 1e-4")
    check(isinstance(trials, int) and trials >= 0, "bad --trials", trials, "an integer >= 0", "pass e.g. --trials 5")
    check(isinstance(patience, int) and patience >= 1, "bad --patience", patience, "an integer >= 1", "pass 3")
    check(isinstance(batch_size, int) and batch_size >= 1, "bad --batch-size", batch_size, "an integer >= 1", "16")
    check(
        layers is None or blocks is None,
        "--unfreeze and --unfreeze-blocks are exclusive",
        f"--unfreeze {layers} --unfreeze-blocks {blocks}",
        "one of them",
        "drop one",
    )


def _search_lr(
    inner: Any,
    phase_fit: Callable,
    trials: int,
    lr: float,
    epochs: int,
    seed: int,
    cl: Any,
    run_id: str,
    ckpt: Path,
    chosen_of: Callable[[Any], list[Any]],
) -> dict[str, list[float]]:
    """Phase 2 ``trials`` times from the same phase-1 model, each with its own learning rate; returns the history
    of the best (the callback has checkpointed the best model across all of them)."""
    import keras
    import optuna

    snapshot = ckpt / "phase1.keras"
    inner.save(snapshot)
    histories: dict[int, dict[str, list[float]]] = {}

    def objective(trial: Any) -> float:
        rate = trial.suggest_float("lr", lr / 10, lr * 10, log=True)
        model = keras.saving.load_model(snapshot, compile=False)
        backbone, _ = parts(model)
        unfreeze.apply(backbone, chosen_of(backbone))
        hist = phase_fit(model, f"finetune_t{trial.number}", epochs, 0, keras.optimizers.RMSprop(rate))
        histories[trial.number] = hist
        value = float(min(hist.get("val_loss", [np.inf])))
        tracking.log_metrics(cl, run_id, {"trial_lr": rate, "trial_val_loss": value}, trial.number)
        return value

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), direction="minimize")
    study.optimize(objective, n_trials=trials)
    tracking.log_params(cl, run_id, {"best_lr": study.best_params["lr"], "best_lr_trial": study.best_trial.number})
    return histories[study.best_trial.number]
