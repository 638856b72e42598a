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

from runner.metrics import classification_metrics
from runner.specs import Head

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


def _fusable(optimizer: Any) -> str | None:
    """'rmsprop' or 'adam' when the Keras optimizer is plain enough for TensorFlow's fused update kernels."""
    import keras

    cfg = optimizer.get_config()
    plain = not any(
        cfg.get(k)
        for k in (
            "weight_decay",
            "clipnorm",
            "clipvalue",
            "global_clipnorm",
            "use_ema",
            "gradient_accumulation_steps",
            "loss_scale_factor",
        )
    )
    if not plain or not isinstance(cfg.get("learning_rate"), float):
        return None
    if type(optimizer) is keras.optimizers.RMSprop and not cfg["centered"] and cfg["momentum"] == 0:
        return "rmsprop"
    if type(optimizer) is keras.optimizers.Adam and not cfg["amsgrad"]:
        return "adam"
    return None


def _updater(optimizer: Any, variables: list[Any]) -> Callable[[list[Any]], None]:
    """``apply(grads)``: Keras's optimizer step, or the same arithmetic in one fused kernel per variable.

    The update is memory-bound (it streams every weight, slot and gradient once per step); the fused
    kernels ResourceApplyRMSProp / ResourceApplyAdam compute exactly Keras's RMSprop and Adam formulas in
    one pass instead of several elementwise passes.
    """
    import tensorflow as tf

    kind = _fusable(optimizer)
    if kind is None:
        optimizer.build(variables)
        return lambda grads: optimizer.apply(grads, variables)
    cfg = optimizer.get_config()
    lr, eps = tf.constant(cfg["learning_rate"], tf.float32), tf.constant(cfg["epsilon"], tf.float32)
    slots = [[tf.Variable(tf.zeros_like(v), trainable=False) for v in variables] for _ in range(2)]
    if kind == "rmsprop":
        rho = tf.constant(cfg["rho"], tf.float32)

        def apply_rmsprop(grads: list[Any]) -> None:
            for v, ms, mom, g in zip(variables, slots[0], slots[1], grads, strict=True):
                tf.raw_ops.ResourceApplyRMSProp(
                    var=v.handle,
                    ms=ms.handle,
                    mom=mom.handle,
                    lr=lr,
                    rho=rho,
                    momentum=tf.constant(0.0),
                    epsilon=eps,
                    grad=g,
                )

        return apply_rmsprop
    b1, b2 = tf.constant(cfg["beta_1"], tf.float32), tf.constant(cfg["beta_2"], tf.float32)
    step = tf.Variable(0.0, trainable=False)

    def apply_adam(grads: list[Any]) -> None:
        step.assign_add(1.0)
        p1, p2 = tf.pow(b1, step), tf.pow(b2, step)
        for v, m, vv, g in zip(variables, slots[0], slots[1], grads, strict=True):
            tf.raw_ops.ResourceApplyAdam(
                var=v.handle,
                m=m.handle,
                v=vv.handle,
                beta1_power=p1,
                beta2_power=p2,
                lr=lr,
                beta1=b1,
                beta2=b2,
                epsilon=eps,
                grad=g,
            )

    return apply_adam


def _steps(model: Any, optimizer: Any, binary: bool, x: Any, y: Any, batch_size: int):
    """Compiled epoch and validation functions for this model."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.BinaryCrossentropy() if binary else keras.losses.SparseCategoricalCrossentropy()
    variables = model.trainable_variables
    update = _updater(optimizer, variables)
    n = int(x.shape[0])
    steps = -(-n // batch_size)

    def correct(yb: Any, p: Any) -> Any:
        pred = tf.cast(p[:, 0] > 0.5, tf.float32) if binary else tf.cast(tf.argmax(p, axis=1), tf.float32)
        return tf.reduce_sum(tf.cast(tf.equal(pred, tf.cast(tf.reshape(yb, [-1]), tf.float32)), tf.float32))

    @tf.function(reduce_retracing=True)
    def epoch(perm: Any) -> tuple[Any, Any]:
        total, hits = tf.constant(0.0), tf.constant(0.0)
        for i in tf.range(steps):
            idx = perm[i * batch_size : tf.minimum((i + 1) * batch_size, n)]
            xb, yb = tf.gather(x, idx), tf.gather(y, idx)
            with tf.GradientTape() as tape:
                p = model(xb, training=True)
                loss = loss_fn(yb, p)
                if model.losses:
                    loss += tf.add_n(model.losses)
            update(tape.gradient(loss, variables))
            total += loss * tf.cast(tf.shape(idx)[0], tf.float32)
            hits += correct(yb, p)
        return total / n, hits / n

    @tf.function(reduce_retracing=True)
    def validate(xv: Any, yv: Any) -> tuple[Any, Any, Any]:
        p = model(xv, training=False)
        return loss_fn(yv, p), correct(yv, p) / tf.cast(tf.shape(xv)[0], tf.float32), p

    return epoch, validate


def fit_head(
    head: Head,
    params: dict[str, Any],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    n_classes: int,
    epochs: int,
    seed: int,
    patience: int = 5,
    on_epoch: EpochHook | None = None,
    history: dict[str, list[float]] | None = None,
    x_views: np.ndarray | None = None,
) -> FitResult:
    """Fit ``head`` with ``params``; ``history`` (if given) is filled epoch by epoch, even when pruned.

    ``x_views`` (views, n, ...): augmented views of the training features; each epoch then trains on one view per
    image, drawn at random, instead of ``x_train``.

    ``on_epoch(epoch, logs)`` runs after every epoch and may raise (e.g. ``optuna.TrialPruned``).
    """
    import tensorflow as tf

    set_seed(seed)
    binary = n_classes == 2
    model = head.build(tuple(x_train.shape[1:]), n_classes, params)
    ydtype = tf.float32 if binary else tf.int32
    y = tf.constant(y_train.reshape(-1, 1) if binary else y_train, ydtype)
    views = None if x_views is None else tf.constant(x_views, tf.float32)
    x = tf.constant(x_train, tf.float32) if views is None else tf.Variable(views[0], trainable=False)
    xv, yv = tf.constant(x_val, tf.float32), tf.constant(y_val.reshape(-1, 1) if binary else y_val, ydtype)
    epoch_fn, validate = _steps(model, head.optimizer(params), binary, x, y, head.batch_size(params))
    shadow = [tf.Variable(v, trainable=False) for v in model.weights]
    history = {} if history is None else history
    rng = np.random.default_rng(seed)
    best, best_epoch, waited = np.inf, 0, 0
    for ep in range(epochs):
        if views is not None:
            pick = rng.integers(0, int(views.shape[0]), size=len(x_train))
            x.assign(tf.gather_nd(views, np.stack([pick, np.arange(len(x_train))], axis=1)))
        loss, acc = epoch_fn(tf.constant(rng.permutation(len(x_train)), tf.int32))
        val_loss, val_acc, _ = validate(xv, yv)
        logs = {
            "loss": float(loss),
            "accuracy": float(acc),
            "val_loss": float(val_loss),
            "val_accuracy": float(val_acc),
        }
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
    for s, v in zip(shadow, model.weights, strict=True):
        v.assign(s)
    proba = np.asarray(validate(xv, yv)[2])
    metrics = {f"val_{k}": v for k, v in classification_metrics(y_val, proba, n_classes).items()}
    return FitResult(model, history, best_epoch, metrics, proba)
