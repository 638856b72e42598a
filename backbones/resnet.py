"""ResNet50/101/152 (caffe preprocessing) and their V2 variants ([-1, 1] preprocessing)."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _resnet(name: str, constructor: str, weights_name: str, v2: bool, params: int | None) -> BackboneSpec:
    return keras_application(
        name,
        constructor=constructor,
        family="resnet_v2" if v2 else "resnet",
        preprocess="tf" if v2 else "caffe",
        channels=2048,
        default_size=224,
        min_size=32,
        spatial=lambda s: halve(s, 5, "ceil"),
        weights_file=f"{weights_name}_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_folder=f"{KERAS_WEIGHTS}resnet/",
        params=params,
        licence=LICENCES["google" if v2 else "resnet"],
    )


@register_backbone("resnet50")
def resnet50() -> BackboneSpec:
    return _resnet("resnet50", "ResNet50", "resnet50", False, 23_587_712)


@register_backbone("resnet101")
def resnet101() -> BackboneSpec:
    return _resnet("resnet101", "ResNet101", "resnet101", False, 42_658_176)


@register_backbone("resnet152")
def resnet152() -> BackboneSpec:
    return _resnet("resnet152", "ResNet152", "resnet152", False, 58_370_944)


@register_backbone("resnet50_v2")
def resnet50_v2() -> BackboneSpec:
    return _resnet("resnet50_v2", "ResNet50V2", "resnet50v2", True, 23_564_800)


@register_backbone("resnet101_v2")
def resnet101_v2() -> BackboneSpec:
    return _resnet("resnet101_v2", "ResNet101V2", "resnet101v2", True, 42_626_560)


@register_backbone("resnet152_v2")
def resnet152_v2() -> BackboneSpec:
    return _resnet("resnet152_v2", "ResNet152V2", "resnet152v2", True, 58_331_648)
