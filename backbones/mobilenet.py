"""MobileNet (v1) and its width multipliers: [-1, 1] preprocessing, floor-halving stride-2 stages."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec

_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}


def _mobilenet(name: str, alpha: float, params: int | None) -> BackboneSpec:
    def weights_file(size: int) -> str:
        rows = size if size in (128, 160, 192, 224) else 224  # Keras falls back to the 224 weights
        return f"mobilenet_{_ALPHA_TEXT[alpha]}_{rows}_tf_no_top.h5"

    return keras_application(
        name,
        constructor="MobileNet",
        family="mobilenet",
        preprocess="tf",
        channels=int(1024 * alpha),
        default_size=224,
        min_size=32,
        spatial=lambda s: halve(s, 5, "floor"),
        weights_file=weights_file,
        weights_folder=f"{KERAS_WEIGHTS}mobilenet/",
        params=params,
        licence=LICENCES["google"],
        kwargs={"alpha": alpha},
    )


@register_backbone("mobilenet_025")
def mobilenet_025() -> BackboneSpec:
    return _mobilenet("mobilenet_025", 0.25, 218_544)


@register_backbone("mobilenet_050")
def mobilenet_050() -> BackboneSpec:
    return _mobilenet("mobilenet_050", 0.5, 829_536)


@register_backbone("mobilenet_075")
def mobilenet_075() -> BackboneSpec:
    return _mobilenet("mobilenet_075", 0.75, 1_832_976)


@register_backbone("mobilenet")
def mobilenet() -> BackboneSpec:
    return _mobilenet("mobilenet", 1.0, 3_228_864)
