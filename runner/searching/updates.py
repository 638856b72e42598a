"""Optimizer updates for the compiled training step: Keras's, or the same arithmetic in TensorFlow's fused kernels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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


def updater(optimizer: Any, variables: list[Any]) -> Callable[[list[Any]], None]:
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
