"""EfficientNet B0..B7: preprocessing is inside the model (0..255 in), same-padded stride-2 stages."""

from __future__ import annotations

from backbones._builder import LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec

FOLDER = "https://storage.googleapis.com/keras-applications/"


def _efficientnet(b: int, default: int, channels: int, params: int | None) -> BackboneSpec:
    return keras_application(
        f"efficientnet_b{b}",
        constructor=f"EfficientNetB{b}",
        family="efficientnet",
        preprocess="none",
        channels=channels,
        default_size=default,
        min_size=32,
        spatial=lambda s: halve(s, 5, "ceil"),
        weights_file=f"efficientnetb{b}_notop.h5",
        weights_folder=FOLDER,
        params=params,
        licence=LICENCES["google"],
    )


@register_backbone("efficientnet_b0")
def efficientnet_b0() -> BackboneSpec:
    return _efficientnet(0, 224, 1280, 4_049_571)


@register_backbone("efficientnet_b1")
def efficientnet_b1() -> BackboneSpec:
    return _efficientnet(1, 240, 1280, 6_575_239)


@register_backbone("efficientnet_b2")
def efficientnet_b2() -> BackboneSpec:
    return _efficientnet(2, 260, 1408, 7_768_569)


@register_backbone("efficientnet_b3")
def efficientnet_b3() -> BackboneSpec:
    return _efficientnet(3, 300, 1536, 10_783_535)


@register_backbone("efficientnet_b4")
def efficientnet_b4() -> BackboneSpec:
    return _efficientnet(4, 380, 1792, 17_673_823)


@register_backbone("efficientnet_b5")
def efficientnet_b5() -> BackboneSpec:
    return _efficientnet(5, 456, 2048, 28_513_527)


@register_backbone("efficientnet_b6")
def efficientnet_b6() -> BackboneSpec:
    return _efficientnet(6, 528, 2304, 40_960_143)


@register_backbone("efficientnet_b7")
def efficientnet_b7() -> BackboneSpec:
    return _efficientnet(7, 600, 2560, 64_097_687)
