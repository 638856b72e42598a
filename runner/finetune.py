"""``runner.finetune()``: the recipe's last stage on a finished search.

The search's registered end-to-end model (its best backbone and head, the head already trained) gets Keras
augmentation layers in front; phase 1 trains the head with the base frozen, phase 2 unfreezes the top of the base
(BatchNormalization kept frozen, in inference mode) at a low learning rate; both stop early on validation loss.
Images stream from disk. The run is a child of the search's parent run; a new model version is registered only if
it beats the search's model on the same validation images (``register="always"`` overrides).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runner import tracking, unfreeze
from runner.augment import Policy
from runner.errors import RunnerError
from runner.finetune_data import Split, evaluate_model, load_split
from runner.models import load

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


def _parts(model: Any) -> tuple[Any, Any]:
    """(backbone, head) inside runner's end-to-end model: the nested models, head last."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) < 2:
        raise RunnerError(
            "not a runner end-to-end model",
            received=model.name,
            expected="pixels -> preprocessing -> backbone model -> head model",
            fix="fine-tune a model registered by `runner search`",
        )
    return nested[-2], nested[-1]


def _augmented(model: Any, size: int, policy: Policy) -> Any:
    import keras

    layers = keras.layers
    inp = keras.Input((size, size, 3), name="image")
    x = layers.RandomFlip("horizontal")(inp) if policy.flip else inp
    x = layers.RandomRotation(policy.rotation / 360.0, fill_mode="reflect")(x)
    x = layers.RandomZoom(policy.zoom, fill_mode="reflect")(x)
    x = layers.RandomTranslation(policy.shift, policy.shift, fill_mode="reflect")(x)
    x = layers.RandomContrast(policy.contrast, value_range=(0, 255))(x) if policy.contrast else x
    return keras.Model(inp, model(x), name="finetune")


def _watch(*args: Any) -> Any:
    """A Keras callback: progress with ETA per phase, per-epoch MLflow metrics, and the best model so far saved
    as a checkpoint (with the phase and epoch reached) so that an interrupted run can continue."""
    import keras

    class Watch(keras.callbacks.Callback):
        def __init__(self, phase, epochs, emit, cl, run_id, inner, ckpt, best, offset):
            super().__init__()
            self.phase, self.epochs, self.emit, self.cl, self.run_id = phase, epochs, emit, cl, run_id
            self.inner, self.ckpt, self.best, self.offset = inner, ckpt, best, offset
            self.history: dict[str, list[float]] = {}
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            for k, v in logs.items():
                self.history.setdefault(k, []).append(v)
            done = epoch + 1 - self.offset
            eta = (time.perf_counter() - self.t0) / max(done, 1) * (self.epochs - epoch - 1)
            self.emit("epoch", {"phase": self.phase, "epoch": epoch + 1, "epochs": self.epochs, "eta": eta} | logs)
            tracking.log_metrics(self.cl, self.run_id, {f"{self.phase}_{k}": v for k, v in logs.items()}, epoch)
            if logs.get("val_loss", np.inf) < self.best[0]:
                self.best[0] = logs["val_loss"]
                self.inner.save(self.ckpt / "model.keras")
                state = {"phase": self.phase, "epoch": epoch + 1, "best_val_loss": self.best[0]}
                (self.ckpt / "state.json").write_text(json.dumps(state))

    return Watch(*args)


def _previous(cl: Any, exp_id: str, parent_id: str, root: Path) -> tuple[str, dict] | None:
    """The latest unfinished finetune run of this search that left a checkpoint."""
    runs = cl.search_runs(
        [exp_id],
        f"tags.mlflow.parentRunId = '{parent_id}' and tags.runner = 'finetune'",
        order_by=["attributes.start_time DESC"],
    )
    for r in runs:
        state = root / r.info.run_id / "state.json"
        if r.info.status != "FINISHED" and state.is_file():
            return r.info.run_id, json.loads(state.read_text())
    return None


def finetune(
    source: str,
    *,
    unfreeze_layers: int | None = None,
    unfreeze_blocks: int | None = None,
    lr: float = 1e-5,
    head_epochs: int = 5,
    epochs: int = 20,
    patience: int = 3,
    batch_size: int = 16,
    augment_policy: str | None = None,
    register: str = "if-better",
    resume: bool = False,
    seed: int = 0,
    tracking_uri: str | None = None,
    on_event: Event | None = None,
) -> FinetuneResult:
    """Fine-tune a search's model (``source``: its parent run id or its registered model URI)."""
    import keras

    emit: Event = on_event or (lambda kind, payload: None)
    _check(register, lr, head_epochs, epochs, patience, batch_size, unfreeze_layers, unfreeze_blocks)
    policy = Policy.parse(augment_policy)
    uri = tracking.tracking_uri(tracking_uri)
    cl = tracking.client(uri)
    ref = f"runs:/{source}/model" if re.fullmatch(r"[0-9a-f]{32}", source) else source
    loaded = load(ref, uri)
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
    prev = _previous(cl, parent.info.experiment_id, parent_id, root) if resume else None
    if prev is None:
        run = cl.create_run(
            parent.info.experiment_id,
            run_name="finetune",
            tags={"mlflow.parentRunId": parent_id, "runner": "finetune", "source": ref},
        )
        run_id, state = run.info.run_id, {"phase": "head", "epoch": 0, "best_val_loss": np.inf}
    else:
        run_id, state = prev
        cl.update_run(run_id, status="RUNNING")
        loaded.model = keras.saving.load_model(root / run_id / "model.keras", compile=False)
    ckpt = root / run_id
    ckpt.mkdir(parents=True, exist_ok=True)
    backbone, head_model = _parts(loaded.model)
    chosen = unfreeze.select(backbone, unfreeze_layers, unfreeze_blocks)
    tracking.log_params(
        cl,
        run_id,
        {
            "source": ref,
            "unfreeze": unfreeze_layers,
            "unfreeze_blocks": unfreeze_blocks if unfreeze_layers is None else None,
            "unfrozen_layers": len(chosen),
            "lr": lr,
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
    model = _augmented(loaded.model, size, policy)
    train = split.stream("train", size, batch_size, n_classes == 2, seed)
    val = split.stream("val", size, batch_size, n_classes == 2)
    loss = "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"
    best = [float(state["best_val_loss"])]
    history: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    ran: dict[str, int] = {}
    try:
        for phase, n_epochs in (("head", head_epochs), ("finetune", epochs)):
            start = state["epoch"] if state["phase"] == phase else 0
            if start >= n_epochs or (phase == "head" and state["phase"] == "finetune"):
                continue  # nothing to do, or done before an interruption
            if phase == "head":
                backbone.trainable = False
                head_model.trainable = True
                from runner.registry import get_head

                optimizer = get_head(loaded.meta["head"]).optimizer(dict(loaded.meta.get("params", {})))
            else:
                unfreeze.apply(backbone, chosen)
                optimizer = keras.optimizers.RMSprop(lr)
            keras.utils.set_random_seed(seed)
            model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
            watch = _watch(phase, n_epochs, emit, cl, run_id, loaded.model, ckpt, best, start)
            stop = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
            t = time.perf_counter()
            fit_args = {"epochs": n_epochs, "initial_epoch": start, "callbacks": [watch, stop], "verbose": 0}
            model.fit(train, validation_data=val, shuffle=False, **fit_args)  # the stream shuffles itself
            seconds[phase] = round(time.perf_counter() - t, 3)
            ran[phase] = len(watch.history.get("loss", []))
            for k, v in watch.history.items():
                history.setdefault(k, []).extend(v)
            state = {"phase": phase, "epoch": n_epochs, "best_val_loss": best[0]}
    except BaseException:
        cl.set_terminated(run_id, status="KILLED")
        raise
    best_model = (
        keras.saving.load_model(ckpt / "model.keras", compile=False)
        if (ckpt / "model.keras").is_file()
        else loaded.model
    )
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
    note = f"val_{metric} {before[metric]:.4f} -> {after[metric]:.4f} (better by {improvement:+.4f})"
    cl.set_tag(run_id, "registered", "yes" if do else f"no ({'not better' if register == 'if-better' else 'never'})")
    if not do or version is None:
        return {}
    cl.update_model_version(name, str(version), description=f"runner finetune of {ref}: {note}")
    return {"name": name, "version": version, "note": note}


def _check(register, lr, head_epochs, epochs, patience, batch_size, layers, blocks) -> None:
    from runner.options import check

    check(register in REGISTER, "bad --register", register, " | ".join(REGISTER), "pass --register if-better")
    check(isinstance(lr, float) and 0 < lr < 1, "bad --lr", lr, "a learning rate in (0, 1)", "pass e.g. --lr 1e-5")
    for name, v in (("head-epochs", head_epochs), ("epochs", epochs)):
        check(isinstance(v, int) and v >= 0, f"bad --{name}", v, "an integer >= 0", f"pass e.g. --{name} 5")
    check(isinstance(patience, int) and patience >= 1, "bad --patience", patience, "an integer >= 1", "pass 3")
    check(isinstance(batch_size, int) and batch_size >= 1, "bad --batch-size", batch_size, "an integer >= 1", "16")
    check(
        layers is None or blocks is None,
        "--unfreeze and --unfreeze-blocks are exclusive",
        f"--unfreeze {layers} --unfreeze-blocks {blocks}",
        "one of them",
        "drop one",
    )
