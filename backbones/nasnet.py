"""NASNetMobile (224 px) and NASNetLarge (331 px): [-1, 1] preprocessing."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _nasnet(name: str, constructor: str, url_name: str, channels: int, default: int, params: int | None):
    return keras_application(
        name,
        constructor=constructor,
        family="nasnet",
        preprocess="tf",
        channels=channels,
        default_size=default,
        min_size=32,
        spatial=lambda s: halve((s - 3) // 2 + 1, 4, "ceil"),
        weights_file=f"{name}_no_top.h5",
        weights_folder=f"{KERAS_WEIGHTS}nasnet/",
        url_file=f"{url_name}-no-top.h5",
        params=params,
        licence=LICENCES["google"],
    )


@register_backbone("nasnet_mobile")
def nasnet_mobile() -> BackboneSpec:
    return _nasnet("nasnet_mobile", "NASNetMobile", "NASNet-mobile", 1056, 224, 4_269_716)


@register_backbone("nasnet_large")
def nasnet_large() -> BackboneSpec:
    return _nasnet("nasnet_large", "NASNetLarge", "NASNet-large", 4032, 331, 84_916_818)
