"""VGG16 (the reference recipe's backbone): caffe preprocessing, 5 valid max-pools."""

from __future__ import annotations

from backbones._builder import KERAS_WEIGHTS, keras_application
from runner.registry import register_backbone
from runner.specs import BackboneSpec


def _vgg(name: str, constructor: str) -> BackboneSpec:
    return keras_application(
        name,
        constructor=constructor,
        family="vgg",
        preprocess="caffe",
        channels=512,
        default_size=224,
        min_size=32,
        rounding="floor",
        weights_file=lambda size: f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_origin=f"{KERAS_WEIGHTS}{name}/",
    )


@register_backbone("vgg16")
def vgg16() -> BackboneSpec:
    return _vgg("vgg16", "VGG16")
