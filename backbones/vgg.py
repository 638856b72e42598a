"""VGG16 (the reference recipe's backbone) and VGG19: caffe preprocessing, five valid max-pools."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, LICENCES, halve, keras_application
from runner.plugins.registry import register_backbone
from runner.plugins.specs import BackboneSpec


def _vgg(name: str, constructor: str, params: int) -> BackboneSpec:
    return keras_application(
        name,
        constructor=constructor,
        family="vgg",
        preprocess="caffe",
        channels=512,
        default_size=224,
        min_size=32,
        spatial=lambda s: halve(s, 5, "floor"),
        weights_file=f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_folder=f"{KERAS_WEIGHTS}{name}/",
        params=params,
        licence=LICENCES["vgg"],
    )


@register_backbone("vgg16")
def vgg16() -> BackboneSpec:
    return _vgg("vgg16", "VGG16", 14_714_688)


@register_backbone("vgg19")
def vgg19() -> BackboneSpec:
    return _vgg("vgg19", "VGG19", 20_024_384)
