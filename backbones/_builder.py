"""Private builder shared by the keras.applications families."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from runner.specs import BackboneSpec

KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications/"


def reduce_size(size: int, stages: int = 5, rounding: str = "ceil") -> int:
    """Spatial size after ``stages`` stride-2 stages ('ceil' for same padding, 'floor' for valid pooling)."""
    for _ in range(stages):
        size = math.ceil(size / 2) if rounding == "ceil" else size // 2
    return size


def keras_application(
    name: str,
    *,
    constructor: str,
    family: str,
    preprocess: str,
    channels: int,
    default_size: int,
    min_size: int,
    rounding: str,
    weights_file: Callable[[int], str] | None,
    weights_origin: str = "",
    kwargs: dict[str, Any] | None = None,
    description: str = "",
) -> BackboneSpec:
    """A spec for ``keras.applications.<constructor>(include_top=False, **kwargs)``."""
    extra = dict(kwargs or {})

    def build(input_shape: tuple[int, int, int], weights: str | None):
        import keras

        ctor = getattr(keras.applications, constructor)
        return ctor(include_top=False, weights=weights, input_shape=input_shape, **extra)

    def feature_shape(size: int) -> tuple[int, int, int]:
        s = reduce_size(size, 5, rounding)
        return (s, s, channels)

    return BackboneSpec(
        name=name,
        build=build,
        preprocess=preprocess,
        default_size=default_size,
        min_size=min_size,
        feature_shape=feature_shape,
        weights_file=weights_file,
        weights_origin=weights_origin,
        family=family,
        description=description
        or f"keras.applications.{constructor}({', '.join(f'{k}={v}' for k, v in extra.items())})",
    )
