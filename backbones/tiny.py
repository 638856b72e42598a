"""A tiny two-block convnet for fast tests and smoke runs (no pretrained weights exist for it)."""

from __future__ import annotations

from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _build(input_shape: tuple[int, int, int], weights: str | None):
    import keras

    if weights is not None:
        raise ValueError("tiny_cnn has no pretrained weights; use weights=None")
    x = inp = keras.Input(input_shape)
    for i, filters in enumerate((8, 16)):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{i + 1}_conv")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{i + 1}_pool")(x)
    return keras.Model(inp, x, name="tiny_cnn")


@register_backbone("tiny_cnn")
def tiny_cnn() -> BackboneSpec:
    return BackboneSpec(
        name="tiny_cnn",
        build=_build,
        preprocess="tf",
        default_size=32,
        min_size=8,
        feature_shape=lambda size: (size // 4, size // 4, 16),
        weights_file=None,
        family="tiny",
        params=1_392,
        description="two conv blocks, 8 and 16 filters; for tests (random weights only)",
    )
