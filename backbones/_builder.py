"""Private builder shared by the keras.applications families: one call per catalogue entry."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from runner.plugins.specs import BackboneSpec

KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications/"
LICENCES = {
    "google": "Apache-2.0 (Google/TensorFlow models)",
    "vgg": "CC-BY-4.0 (Oxford VGG)",
    "resnet": "MIT (Kaiming He's released models)",
    "densenet": "BSD-3-Clause (DenseNet authors)",
    "convnext": "MIT (Meta ConvNeXt)",
}


def halve(size: int, times: int = 5, rounding: str = "ceil") -> int:
    """Spatial size after ``times`` stride-2 stages ('ceil' for same padding, 'floor' for valid pooling)."""
    for _ in range(times):
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
    spatial: Callable[[int], int],
    weights_file: str | Callable[[int], str] | None,
    weights_folder: str = "",
    url_file: str | None = None,
    params: int | None = None,
    licence: str = "",
    kwargs: dict[str, Any] | None = None,
) -> BackboneSpec:
    """A spec for ``keras.applications.<constructor>(include_top=False, **kwargs)``.

    ``weights_file`` is the name Keras gives the no-top ImageNet file in its cache; Keras downloads it
    from ``weights_folder + (url_file or weights_file)``.
    """
    extra = dict(kwargs or {})

    def build(input_shape: tuple[int, int, int], weights: str | None):
        import keras

        ctor = getattr(keras.applications, constructor)
        return ctor(include_top=False, weights=weights, input_shape=input_shape, **extra)

    def feature_shape(size: int) -> tuple[int, int, int]:
        s = spatial(size)
        return (s, s, channels)

    file_fn = (lambda size: weights_file) if isinstance(weights_file, str) else weights_file
    url_fn = None
    if file_fn is not None:
        url_fn = (lambda size: weights_folder + url_file) if url_file else (lambda size: weights_folder + file_fn(size))
    args = ", ".join(f"{k}={v!r}" for k, v in extra.items())
    return BackboneSpec(
        name=name,
        build=build,
        preprocess=preprocess,
        default_size=default_size,
        min_size=min_size,
        feature_shape=feature_shape,
        weights_file=file_fn,
        weights_url=url_fn,
        family=family,
        description=f"keras.applications.{constructor}({args})",
        params=params,
        licence=licence,
    )
