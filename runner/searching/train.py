"""Training one head on cached features, fast.

Features live in memory as tensors; one compiled function runs a whole epoch (shuffle, every batch's
forward, backward and update) with no per-batch Python; validation is one compiled call. Early stopping
on validation loss keeps the best epoch's weights (copied in-graph into shadow variables).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from runner.features.rows import DEFAULT_BUDGET_MB, Rows
from runner.metrics import classification_metrics
from runner.plugins.specs import Head
from runner.searching.feed import Feed, state_bytes
from runner.searching.updates import updater

if TYPE_CHECKING:  # pragma: no cover
    import keras

EpochHook = Callable[[int, dict[str, float]], None]
_determinism = False


@dataclass
class FitResult:
    model: keras.Model
    history: dict[str, list[float]]
    best_epoch: int
    metrics: dict[str, float]
    val_proba: np.ndarray = field(repr=False)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, with deterministic ops, so a seeded trial repeats exactly."""
    global _determinism
    import keras

    keras.utils.set_random_seed(seed)
    if not _determinism:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        _determinism = True


def _steps(model: Any, optimizer: Any, binary: bool, feed: Feed, batch_size: int):
    """Compiled ``run`` (train on a tensor's rows in a given order, every batch in one call) and ``validate``."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.BinaryCrossentropy() if binary else keras.losses.SparseCategoricalCrossentropy()
    variables = model.trainable_variables
    update = updater(optimizer, variables)
    xspec = tf.TensorSpec((None, *feed.train.shape[1:]), tf.as_dtype(feed.train.dtype))
    yspec = tf.TensorSpec((None, 1) if binary else (None,), tf.float32 if binary else tf.int32)
    ispec = tf.TensorSpec((None,), tf.int32)

    def correct(yb: Any, p: Any) -> Any:
        pred = tf.cast(p[:, 0] > 0.5, tf.float32) if binary else tf.cast(tf.argmax(p, axis=1), tf.float32)
        return tf.reduce_sum(tf.cast(tf.equal(pred, tf.cast(tf.reshape(yb, [-1]), tf.float32)), tf.float32))

    @tf.function(input_signature=[xspec, yspec, ispec, ispec])
    def run(x: Any, y: Any, xi: Any, yi: Any) -> tuple[Any, Any]:
        """Batches of rows ``x[xi]`` with labels ``y[yi]``, in that order; sums of loss and of correct."""
        n = tf.shape(xi)[0]
        total, hits = tf.constant(0.0), tf.constant(0.0)
        for i in tf.range((n + batch_size - 1) // batch_size):
            lo = i * batch_size
            hi = tf.minimum(lo + batch_size, n)
            xb = tf.cast(tf.gather(x, xi[lo:hi]), tf.float32)
            yb = tf.gather(y, yi[lo:hi])
            with tf.GradientTape() as tape:
                p = model(xb, training=True)
                loss = loss_fn(yb, p)
                if model.losses:
                    loss += tf.add_n(model.losses)
            update(tape.gradient(loss, variables))
            total += loss * tf.cast(hi - lo, tf.float32)
            hits += correct(yb, p)
        return total, hits

    @tf.function(input_signature=[xspec, yspec])
    def validate(x: Any, y: Any) -> tuple[Any, Any, Any]:
        p = model(tf.cast(x, tf.float32), training=False)
        return loss_fn(y, p) * tf.cast(tf.shape(x)[0], tf.float32), correct(y, p), p

    return run, validate


def fit_head(
    head: Head,
    params: dict[str, Any],
    x_train: np.ndarray | Rows,
    y_train: np.ndarray,
    x_val: np.ndarray | Rows | None,
    y_val: np.ndarray | None,
    n_classes: int,
    epochs: int,
    seed: int,
    patience: int = 5,
    on_epoch: EpochHook | None = None,
    history: dict[str, list[float]] | None = None,
    x_views: np.ndarray | Rows | None = None,
    budget_mb: float = DEFAULT_BUDGET_MB,
    initial: list[Any] | None = None,
) -> FitResult:
    """Fit ``head`` with ``params``; ``history`` (if given) is filled epoch by epoch, even when pruned.

    ``x_views`` (views, n, ...): augmented views of the training features; each epoch then trains on one view per
    image, drawn at random, instead of ``x_train``. Features are arrays or :class:`Rows` of the cache's files;
    at most ``budget_mb`` MiB of them are held in memory (more are streamed in chunks, same result).

    ``initial``: weights to start from instead of the head's initialisation.
    ``on_epoch(epoch, logs)`` runs after every epoch and may raise (e.g. ``optuna.TrialPruned``).
    Without ``x_val`` (a refit on all labelled rows) it trains exactly ``epochs`` epochs and reports no metrics.
    """
    import tensorflow as tf

    set_seed(seed)
    binary = n_classes == 2
    train = Rows.of(x_train)
    val = None if x_val is None else Rows.of(x_val)
    if val is not None and val.dtype != train.dtype:  # one compiled signature: validation rows in training's dtype
        val = Rows.of(val.read().astype(train.dtype))
    views = None if x_views is None else Rows.views(x_views)
    model = head.build(tuple(train.shape[1:]), n_classes, params)
    if initial is not None:  # warm start (successive halving: the last rung's weights)
        model.set_weights(initial)
    ydtype = tf.float32 if binary else tf.int32
    y = tf.constant(y_train.reshape(-1, 1) if binary else y_train, ydtype)
    yv = None if y_val is None else tf.constant(y_val.reshape(-1, 1) if binary else y_val, ydtype)
    batch_size = head.batch_size(params)
    optimizer = head.optimizer(params)
    feed = Feed(train, views, val, budget_mb * 2**20, batch_size, state_bytes(model, optimizer))
    run, validate = _steps(model, optimizer, binary, feed, batch_size)

    def evaluate() -> tuple[float, float, np.ndarray]:
        loss, hits, parts = 0.0, 0.0, []
        for xv, lo, hi in feed.validation():
            part_loss, part_hits, p = validate(xv, yv[lo:hi])
            loss, hits = loss + float(part_loss), hits + float(part_hits)
            parts.append(np.asarray(p))
        return loss / len(val), hits / len(val), np.concatenate(parts)

    shadow = [tf.Variable(v, trainable=False) for v in model.weights]
    history = {} if history is None else history
    rng = np.random.default_rng(seed)
    best, best_epoch, waited = np.inf, 0, 0
    for ep in range(epochs):
        pick = None if views is None else rng.integers(0, len(views.sources), size=len(train))
        loss, hits = 0.0, 0.0
        for x, xi, yi in feed.epoch(rng.permutation(len(train)), pick):
            part_loss, part_hits = run(x, y, xi, yi)
            loss, hits = loss + float(part_loss), hits + float(part_hits)
        logs = {"loss": loss / len(train), "accuracy": hits / len(train)}
        if val is None:
            for k, v in logs.items():
                history.setdefault(k, []).append(v)
            continue
        val_loss, val_acc, _ = evaluate()
        logs |= {"val_loss": val_loss, "val_accuracy": val_acc}
        for k, v in logs.items():
            history.setdefault(k, []).append(v)
        if logs["val_loss"] < best:
            best, best_epoch, waited = logs["val_loss"], ep, 0
            for s, v in zip(shadow, model.weights, strict=True):
                s.assign(v)
        else:
            waited += 1
        if on_epoch is not None:
            on_epoch(ep, logs)
        if waited >= patience or not np.isfinite(logs["val_loss"]):
            break
    if val is None:
        return FitResult(model, history, epochs - 1, {}, np.zeros((0, 1), np.float32))
    for s, v in zip(shadow, model.weights, strict=True):
        v.assign(s)
    proba = evaluate()[2]
    metrics = {f"val_{k}": v for k, v in classification_metrics(y_val, proba, n_classes).items()}
    return FitResult(model=model, history=history, best_epoch=best_epoch, metrics=metrics, val_proba=proba)
