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
from functools import partial
from typing import Any

from runner import tracking
from runner.errors import RegistryError, RunnerError
from runner.finetuning import unfreeze
from runner.finetuning.blend import finished, starting_model
from runner.finetuning.config import FinetuneConfig
from runner.finetuning.data import Split, evaluate_model, load_split, val_proba
from runner.finetuning.model import Progress, Where, augmented, parts, previous, watch
from runner.finetuning.outcome import Scores, register_result, search_lr
from runner.options import config_of
from runner.plugins.code import load_code
from runner.plugins.registry import backbones as backbone_registry
from runner.plugins.registry import get_backbone, get_head
from runner.use.load import load

Event = Callable[[str, dict[str, Any]], None]


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
    config: FinetuneConfig | None = None,
    /,
    *,
    on_event: Event | None = None,
    **options: Any,
) -> FinetuneResult:
    """Fine-tune a search's model (``source``: its parent run id or its registered model URI), with a
    :class:`FinetuneConfig` or its fields as keywords.

    ``cfg.trials`` > 1: phase 2 is run that many times from the phase-1 model, with learning rates searched
    (TPE, log scale) between ``lr``/10 and ``lr``*10; the best run by validation loss is kept."""
    cfg = config_of(FinetuneConfig, config, options, "finetune")
    emit: Event = on_event or (lambda kind, payload: None)
    policy = cfg.policy
    for path in cfg.code:  # a model whose backbone or head came from a --code file
        load_code(path)
    uri = tracking.tracking_uri(cfg.tracking_uri)
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
    _check_head_available(loaded.meta)
    parent = cl.get_run(parent_id)
    metric = parent.data.params.get("metric", "log_loss")
    split: Split = load_split(cl, parent)
    size, n_classes = loaded.size, len(loaded.classes)
    t0 = time.perf_counter()
    loaded.model = starting_model(loaded, cl)  # the best trial alone, as validated
    before = evaluate_model(loaded.model, split, size, cfg.batch_size)
    root = tracking.local_root(uri).resolve() / "finetune"
    prev = previous(cl, parent.info.experiment_id, parent_id, root) if cfg.resume else None
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

    block_of = _block_rule(loaded.meta.get("backbone", ""))

    def chosen_of(bb: Any) -> list[Any]:
        return unfreeze.select(bb, cfg.unfreeze_layers, cfg.unfreeze_blocks, block_of)

    chosen = chosen_of(backbone)
    tracking.log_params(
        cl,
        run_id,
        {
            "source": ref,
            "unfreeze": cfg.unfreeze_layers,
            "unfreeze_blocks": cfg.unfreeze_blocks if cfg.unfreeze_layers is None else None,
            "unfrozen_layers": len(chosen),
            "lr": cfg.lr,
            "head_lr": cfg.head_lr,
            "trials": cfg.trials,
            "head_epochs": cfg.head_epochs,
            "epochs": cfg.epochs,
            "patience": cfg.patience,
            "batch_size": cfg.batch_size,
            "augment_policy": policy.as_dict(),
            "n_train": len(split.train_rows),
            "n_val": len(split.val_rows),
        },
        new_run=prev is None,
    )
    tracking.log_metrics(cl, run_id, {f"before_val_{k}": v for k, v in before.items()})
    train = split.stream("train", size, cfg.batch_size, n_classes == 2, cfg.seed)
    val = split.stream("val", size, cfg.batch_size, n_classes == 2)
    loss = "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"
    best = [float(state["best_val_loss"])]

    def phase_fit(inner: Any, name: str, n_epochs: int, start: int, optimizer: Any) -> dict[str, list[float]]:
        model = augmented(inner, size, policy)
        keras.utils.set_random_seed(cfg.seed)
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        cb = watch(Progress(name, n_epochs, emit, Where(cl, run_id, ckpt), inner, best, start))
        stop = keras.callbacks.EarlyStopping(patience=cfg.patience, restore_best_weights=True)
        fit_args = {"epochs": n_epochs, "initial_epoch": start, "callbacks": [cb, stop], "verbose": 0}
        model.fit(train, validation_data=val, shuffle=False, **fit_args)  # the stream shuffles itself
        return cb.history

    history: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    ran: dict[str, int] = {}
    try:
        with tracking.ending(cl, run_id, error="KILLED"):
            for phase, n_epochs in (("head", cfg.head_epochs), ("finetune", cfg.epochs)):
                start = state["epoch"] if state["phase"] == phase else 0
                if start >= n_epochs or (phase == "head" and state["phase"].startswith("finetune")):
                    continue  # nothing to do, or done before an interruption
                t = time.perf_counter()
                if phase == "head":
                    backbone.trainable = False
                    head_model.trainable = True
                    head_params = dict(loaded.meta.get("params", {}))
                    if "learning_rate" in head_params:  # a warm head: the best trial's rate / 10, or --head-lr
                        head_params["learning_rate"] = cfg.head_lr or float(head_params["learning_rate"]) / 10
                    optimizer = get_head(loaded.meta["head"]).optimizer(head_params)
                    hist = phase_fit(loaded.model, phase, n_epochs, start, optimizer)
                elif cfg.trials > 1 and prev is None:
                    hist = search_lr(loaded.model, phase_fit, cfg, n_epochs, Where(cl, run_id, ckpt), chosen_of)
                else:
                    unfreeze.apply(backbone, chosen)
                    hist = phase_fit(loaded.model, phase, n_epochs, start, keras.optimizers.RMSprop(cfg.lr))
                seconds[phase] = round(time.perf_counter() - t, 3)
                ran[phase] = len(hist.get("loss", []))
                for k, v in hist.items():
                    history.setdefault(k, []).extend(v)
            # no epoch beat the search's model: the result is that model, unchanged
            saved = ckpt / "model.keras"
            if saved.is_file():  # the best epoch, with the search's test-time augmentation and calibration
                proba = partial(val_proba, sp=split, size=size, batch_size=cfg.batch_size)
                y_val = split.val.labels[split.val_rows]
                best_model, ens = finished(
                    keras.saving.load_model(saved, compile=False), loaded.meta, n_classes, proba, y_val
                )
                loaded.meta["ensemble"] = ens
                scores = Scores(metric, before, evaluate_model(best_model, split, size, cfg.batch_size))
            else:  # nothing beat the starting model: the search's model stays what it was
                best_model, scores = load(ref, uri).model, Scores(metric, before, before)
            after, improvement = scores.after, scores.improvement
            tracking.log_metrics(cl, run_id, {f"val_{k}": v for k, v in after.items()} | {"improvement": improvement})
            tracking.learning_curves(cl, run_id, history)
            registered = register_result(Where(cl, run_id, ckpt), uri, best_model, loaded, cfg.register, scores, ref)
            seconds["total"] = round(time.perf_counter() - t0, 3)
    except KeyboardInterrupt:
        raise FinetuneInterrupted(run_id, str(ckpt), source) from None
    return FinetuneResult(
        run_id=run_id,
        parent_run_id=parent_id,
        source=ref,
        metric=metric,
        before=before,
        after=after,
        improvement=improvement,
        registered=registered,
        unfrozen=[layer.name for layer in chosen],
        epochs=ran,
        seconds=seconds,
        checkpoint=str(ckpt),
    )


class FinetuneInterrupted(KeyboardInterrupt):
    """Ctrl+C during fine-tuning: the run is KILLED, its best checkpoint kept; ``--resume`` continues that run."""

    def __init__(self, run_id: str, checkpoint: str, source: str) -> None:
        super().__init__(run_id)
        self.run_id, self.checkpoint, self.source = run_id, checkpoint, source


def _block_rule(backbone: str) -> unfreeze.BlockOf | None:
    """The backbone spec's own ``block_of`` when it is registered here (built-in, installed or ``--code``); else
    Keras's naming rule, with one block per layer as the fallback."""
    if backbone not in backbone_registry.names():
        return None
    try:
        return get_backbone(backbone).block_of
    except RegistryError:  # a broken plugin: Keras's naming rule still finds blocks in the saved model
        return None


def _check_head_available(meta: dict[str, Any]) -> None:
    """The head is rebuilt by name (its optimizer): say where it came from when it is not registered here."""
    from runner.plugins.registry import heads as head_registry

    name, source = meta["head"], str(meta.get("head_source", ""))
    if name in head_registry.names():
        return
    if source.endswith(".py"):
        fix = f"pass --code {source} (the file the search loaded it from)"
    elif "==" in source:
        fix = f"install the plugin package {source}"
    else:
        fix = "pass --code FILE.py or install the package that registers it"
    raise RunnerError("the model's head is not registered here", received=name, expected="a registered head", fix=fix)
