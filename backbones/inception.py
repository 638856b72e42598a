"""InceptionV3, InceptionResNetV2 and Xception: [-1, 1] preprocessing, valid-padded stems, 299 px default."""

from __future__ import annotations

import math

from backbones._builder import KERAS_WEIGHTS, LICENCES, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _inception_spatial(s: int) -> int:
    s = (s - 3) // 2 + 1 - 2  # conv 3x3/2 valid, conv 3x3 valid
    s = (s - 3) // 2 + 1 - 2  # max-pool 3x3/2 valid, conv 3x3 valid
    for _ in range(3):  # max-pool, then two reduction blocks, all 3x3/2 valid
        s = (s - 3) // 2 + 1
    return s


def _xception_spatial(s: int) -> int:
    s = (s - 3) // 2 + 1 - 2  # conv 3x3/2 valid, conv 3x3 valid
    for _ in range(4):  # four same-padded 3x3/2 max-pools
        s = math.ceil(s / 2)
    return s


def _entry(name: str, constructor: str, channels: int, min_size: int, spatial, params: int) -> BackboneSpec:
    file = f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return keras_application(
        name,
        constructor=constructor,
        family="inception",
        preprocess="tf",
        channels=channels,
        default_size=299,
        min_size=min_size,
        spatial=spatial,
        weights_file=file,
        weights_folder=f"{KERAS_WEIGHTS}{name}/",
        params=params,
        licence=LICENCES["google"],
    )


@register_backbone("inception_v3")
def inception_v3() -> BackboneSpec:
    return _entry("inception_v3", "InceptionV3", 2048, 75, _inception_spatial, 21_802_784)


@register_backbone("inception_resnet_v2")
def inception_resnet_v2() -> BackboneSpec:
    return _entry("inception_resnet_v2", "InceptionResNetV2", 1536, 75, _inception_spatial, 54_336_736)


@register_backbone("xception")
def xception() -> BackboneSpec:
    return _entry("xception", "Xception", 2048, 71, _xception_spatial, 20_861_480)
