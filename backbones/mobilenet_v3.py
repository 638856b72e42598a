"""MobileNetV3 Small/Large with alpha and minimalistic variants; preprocessing is inside the model (0..255 in)."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _mobilenet_v3(name: str, kind: str, alpha: float, minimalistic: bool, channels: int, params: int | None):
    variant = f"{kind}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
    return keras_application(
        name,
        constructor=f"MobileNetV3{kind.capitalize()}",
        family="mobilenet_v3",
        preprocess="none",
        channels=channels,
        default_size=224,
        min_size=32,
        spatial=lambda s: halve(s, 5, "ceil"),
        weights_file=f"weights_mobilenet_v3_{variant}_no_top_v2.h5",
        weights_folder=f"{KERAS_WEIGHTS}mobilenet_v3/",
        params=params,
        licence=LICENCES["google"],
        kwargs={"alpha": alpha, "minimalistic": minimalistic},
    )


@register_backbone("mobilenet_v3_small")
def mobilenet_v3_small() -> BackboneSpec:
    return _mobilenet_v3("mobilenet_v3_small", "small", 1.0, False, 576, 939_120)


@register_backbone("mobilenet_v3_small_075")
def mobilenet_v3_small_075() -> BackboneSpec:
    return _mobilenet_v3("mobilenet_v3_small_075", "small", 0.75, False, 432, 583_160)


@register_backbone("mobilenet_v3_small_minimalistic")
def mobilenet_v3_small_minimalistic() -> BackboneSpec:
    return _mobilenet_v3("mobilenet_v3_small_minimalistic", "small", 1.0, True, 576, 441_000)


@register_backbone("mobilenet_v3_large")
def mobilenet_v3_large() -> BackboneSpec:
    return _mobilenet_v3("mobilenet_v3_large", "large", 1.0, False, 960, 2_996_352)


@register_backbone("mobilenet_v3_large_075")
def mobilenet_v3_large_075() -> BackboneSpec:
    return _mobilenet_v3("mobilenet_v3_large_075", "large", 0.75, False, 720, 1_808_736)


@register_backbone("mobilenet_v3_large_minimalistic")
def mobilenet_v3_large_minimalistic() -> BackboneSpec:
    return _mobilenet_v3("mobilenet_v3_large_minimalistic", "large", 1.0, True, 960, 1_437_608)
