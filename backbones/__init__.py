"""Built-in backbones: the keras.applications catalogue, one family per module, plus a tiny test net."""

from __future__ import annotations

from backbones import (  # noqa: F401  (importing a family registers its entries)
    convnext,
    densenet,
    efficientnet,
    efficientnet_v2,
    inception,
    mobilenet,
    mobilenet_v2,
    mobilenet_v3,
    nasnet,
    resnet,
    tiny,
    vgg,
)
