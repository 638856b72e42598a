"""MobileNetV2 and its width multipliers (alpha), each under its own name; inputs scaled to [-1, 1]."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _mobilenet_v2(name: str, alpha: float, params: int | None) -> BackboneSpec:
    def weights_file(size: int) -> str:
        rows = size if size in (96, 128, 160, 192, 224) else 224  # Keras falls back to the 224 weights
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"

    return keras_application(
        name,
        constructor="MobileNetV2",
        family="mobilenet_v2",
        preprocess="tf",
        channels=1280 if alpha <= 1.0 else int(1280 * alpha),
        default_size=224,
        min_size=32,
        spatial=lambda s: halve(s, 5, "ceil"),
        weights_file=weights_file,
        weights_folder=f"{KERAS_WEIGHTS}mobilenet_v2/",
        params=params,
        licence=LICENCES["google"],
        kwargs={"alpha": alpha},
    )


@register_backbone("mobilenet_v2_035")
def mobilenet_v2_035() -> BackboneSpec:
    return _mobilenet_v2("mobilenet_v2_035", 0.35, 410_208)


@register_backbone("mobilenet_v2_050")
def mobilenet_v2_050() -> BackboneSpec:
    return _mobilenet_v2("mobilenet_v2_050", 0.5, 706_224)


@register_backbone("mobilenet_v2_075")
def mobilenet_v2_075() -> BackboneSpec:
    return _mobilenet_v2("mobilenet_v2_075", 0.75, 1_382_064)


@register_backbone("mobilenet_v2")
def mobilenet_v2() -> BackboneSpec:
    return _mobilenet_v2("mobilenet_v2", 1.0, 2_257_984)


@register_backbone("mobilenet_v2_130")
def mobilenet_v2_130() -> BackboneSpec:
    return _mobilenet_v2("mobilenet_v2_130", 1.3, 3_766_048)


@register_backbone("mobilenet_v2_140")
def mobilenet_v2_140() -> BackboneSpec:
    return _mobilenet_v2("mobilenet_v2_140", 1.4, 4_363_712)
