"""The end-to-end model: RGB pixels (0..255) -> preprocessing -> backbone -> head."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.data import images
from runner.features.cache import CacheEntry
from runner.features.extract import RANDOM_WEIGHTS_FILE, Weights, build_backbone, feature_model
from runner.plugins.specs import BackboneSpec

if TYPE_CHECKING:  # pragma: no cover
    import keras


def end_to_end(
    spec: BackboneSpec, size: int, weights: Weights, entry: CacheEntry, head_model: keras.Model
) -> keras.Model:
    """Assemble the model with the very backbone weights the cached features came from."""
    import keras

    backbone = build_backbone(spec, size, weights, random_weights=entry.file(RANDOM_WEIGHTS_FILE))
    features = feature_model(spec, size, backbone)
    return keras.Model(features.input, head_model(features.output), name=f"runner_{spec.name}")


def model_metadata(spec: BackboneSpec, size: int, weights: Weights, classes: list[str], extra: dict[str, Any]) -> dict:
    """What prediction needs to decode and resize exactly as training did."""
    return {
        "runner_format": 1,
        "classes": list(classes),
        "image_size": size,
        "input": "RGB uint8 values as float32, 0..255, (size, size, 3)",
        "decode": "opencv imdecode -> RGB (gray/RGBA/16-bit converted)",
        "resize": images.RESIZE,
        "backbone": spec.name,
        "preprocess": spec.preprocess,
        "weights": weights.identity,
        "output": "sigmoid P(classes[1])" if len(classes) == 2 else "softmax over classes",
        **extra,
    }
