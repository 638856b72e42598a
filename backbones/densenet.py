"""DenseNet121/169/201: torch-style preprocessing (ImageNet mean/std), average-pooling transitions."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _densenet(depth: int, channels: int, params: int | None) -> BackboneSpec:
    name = f"densenet{depth}"
    return keras_application(
        name,
        constructor=f"DenseNet{depth}",
        family="densenet",
        preprocess="torch",
        channels=channels,
        default_size=224,
        min_size=32,
        spatial=lambda s: halve(halve(s, 2, "ceil"), 3, "floor"),
        weights_file=f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_folder=f"{KERAS_WEIGHTS}densenet/",
        params=params,
        licence=LICENCES["densenet"],
    )


@register_backbone("densenet121")
def densenet121() -> BackboneSpec:
    return _densenet(121, 1024, 7_037_504)


@register_backbone("densenet169")
def densenet169() -> BackboneSpec:
    return _densenet(169, 1664, 12_642_880)


@register_backbone("densenet201")
def densenet201() -> BackboneSpec:
    return _densenet(201, 1920, 18_321_984)
