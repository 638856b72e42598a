"""Runner's own Keras layers, registered for saving and loading: the mirror image (test-time augmentation) and the
blend of members' probabilities (ensemble weights, then temperature scaling).

Keras is imported when :func:`custom_layers` is first called, never at import time; loading a saved runner model
calls it first so that Keras finds the classes by their registered names.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

EPS = 1e-7


@cache
def custom_layers() -> SimpleNamespace:
    import keras

    ops = keras.ops

    @keras.saving.register_keras_serializable(package="runner")
    class MirrorImage(keras.layers.Layer):
        """Left-right flip of (n, height, width, channels) images."""

        def call(self, x: Any) -> Any:
            return ops.flip(x, axis=2)

    @keras.saving.register_keras_serializable(package="runner")
    class Blend(keras.layers.Layer):
        """Weighted mean of the members' probabilities, then temperature scaling: sigmoid(logit(p) / T) for one
        output (two classes), softmax(log(p) / T) for K."""

        def __init__(self, member_weights: list[float], temperature: float = 1.0, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.member_weights = [float(w) for w in member_weights]
            self.temperature = float(temperature)

        def call(self, inputs: Any) -> Any:
            inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            p = inputs[0] * self.member_weights[0]
            for w, x in zip(self.member_weights[1:], inputs[1:], strict=True):
                p = p + x * w
            if self.temperature == 1.0:
                return p
            p = ops.clip(p, EPS, 1.0 - EPS)
            if p.shape[-1] == 1:
                return ops.sigmoid((ops.log(p) - ops.log(1.0 - p)) / self.temperature)
            return ops.softmax(ops.log(p) / self.temperature, axis=-1)

        def compute_output_shape(self, input_shape: Any) -> Any:
            nested = isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple))
            return tuple(input_shape[0]) if nested else input_shape

        def get_config(self) -> dict[str, Any]:
            return super().get_config() | {"member_weights": self.member_weights, "temperature": self.temperature}

    return SimpleNamespace(MirrorImage=MirrorImage, Blend=Blend)
