"""ConvNeXt Tiny..XLarge: preprocessing inside the model (0..255 in), 4x4 stem then three 2x2 downsamplings."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _convnext(size: str, channels: int, params: int | None) -> BackboneSpec:
    return keras_application(
        f"convnext_{size}",
        constructor="ConvNeXt" + ("XLarge" if size == "xlarge" else size.capitalize()),
        family="convnext",
        preprocess="none",
        channels=channels,
        default_size=224,
        min_size=32,
        spatial=lambda s: halve(s // 4, 3, "floor"),
        weights_file=f"convnext_{size}_notop.h5",
        weights_folder=f"{KERAS_WEIGHTS}convnext/",
        params=params,
        licence=LICENCES["convnext"],
    )


@register_backbone("convnext_tiny")
def convnext_tiny() -> BackboneSpec:
    return _convnext("tiny", 768, 27_820_128)


@register_backbone("convnext_small")
def convnext_small() -> BackboneSpec:
    return _convnext("small", 768, 49_454_688)


@register_backbone("convnext_base")
def convnext_base() -> BackboneSpec:
    return _convnext("base", 1024, 87_566_464)


@register_backbone("convnext_large")
def convnext_large() -> BackboneSpec:
    return _convnext("large", 1536, 196_230_336)


@register_backbone("convnext_xlarge")
def convnext_xlarge() -> BackboneSpec:
    return _convnext("xlarge", 2048, 348_147_968)
