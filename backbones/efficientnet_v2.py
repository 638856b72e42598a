"""EfficientNetV2 B0..B3, S, M, L: preprocessing inside the model (0..255 in)."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _efficientnet_v2(variant: str, default: int, channels: int, params: int | None) -> BackboneSpec:
    return keras_application(
        f"efficientnet_v2_{variant}",
        constructor=f"EfficientNetV2{variant.upper()}",
        family="efficientnet_v2",
        preprocess="none",
        channels=channels,
        default_size=default,
        min_size=32,
        spatial=lambda s: halve(s, 5, "ceil"),
        weights_file=f"efficientnetv2-{variant}_notop.h5",
        weights_folder=f"{KERAS_WEIGHTS}efficientnet_v2/",
        params=params,
        licence=LICENCES["google"],
    )


@register_backbone("efficientnet_v2_b0")
def efficientnet_v2_b0() -> BackboneSpec:
    return _efficientnet_v2("b0", 224, 1280, 5_919_312)


@register_backbone("efficientnet_v2_b1")
def efficientnet_v2_b1() -> BackboneSpec:
    return _efficientnet_v2("b1", 240, 1280, 6_931_124)


@register_backbone("efficientnet_v2_b2")
def efficientnet_v2_b2() -> BackboneSpec:
    return _efficientnet_v2("b2", 260, 1408, 8_769_374)


@register_backbone("efficientnet_v2_b3")
def efficientnet_v2_b3() -> BackboneSpec:
    return _efficientnet_v2("b3", 300, 1536, 12_930_622)


@register_backbone("efficientnet_v2_s")
def efficientnet_v2_s() -> BackboneSpec:
    return _efficientnet_v2("s", 384, 1280, 20_331_360)


@register_backbone("efficientnet_v2_m")
def efficientnet_v2_m() -> BackboneSpec:
    return _efficientnet_v2("m", 480, 1280, 53_150_388)


@register_backbone("efficientnet_v2_l")
def efficientnet_v2_l() -> BackboneSpec:
    return _efficientnet_v2("l", 480, 1280, 117_746_848)
