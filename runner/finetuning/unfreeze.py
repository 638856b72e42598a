"""Which backbone layers fine-tuning trains: the top N layers, or the top N of the backbone's own blocks
(VGG16's ``block5``, MobileNetV2's ``block_16``, ResNet's ``conv5_block3``, EfficientNet's ``block7a``, ...).
BatchNormalization layers always stay frozen, which in Keras 3 also keeps them in inference mode."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from runner.errors import RunnerError

BlockOf = Callable[[str], "str | None"]  # a layer's name -> its block's name, None when it is in none
BLOCK = re.compile(
    r"^(block_?\d+[a-z]?|conv\d+_block\d+|stage_?\d+(?:_block_?\d+)?|mixed\d+|expanded_conv(?:_\d+)?|"
    r"normal_[a-z_]*\d+|reduction_[a-z_]*\d+|.*?_stage_\d+_block_\d+)"
)


def is_batchnorm(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.layers.BatchNormalization)


def keras_block(layer_name: str) -> str | None:
    """The block a layer of a ``keras.applications`` network belongs to, from its name (None: not in one)."""
    m = BLOCK.match(layer_name)
    return m.group(1) if m else None


def blocks(backbone: Any, block_of: BlockOf | None = None) -> list[tuple[str, list[Any]]]:
    """The backbone's layers grouped into its own blocks, in order. ``block_of(layer_name)`` names a layer's block
    (a backbone spec's ``block_of``; default: Keras's naming, :func:`keras_block`); layers outside any block (a final
    1x1 conv, an activation) join the block before them, those before the first block form ``stem``. A network
    whose layer names show no block at all gets one block per layer with weights."""
    name_of = block_of or keras_block
    groups: list[tuple[str, list[Any]]] = []
    for layer in backbone.layers:
        found = name_of(layer.name)
        name = found if found else (groups[-1][0] if groups else "stem")
        if not groups or groups[-1][0] != name:
            groups.append((name, []))
        groups[-1][1].append(layer)
    if all(name == "stem" for name, _ in groups):  # no block names: each layer with weights is a block
        return [(layer.name, [layer]) for layer in backbone.layers if layer.weights and not is_batchnorm(layer)]
    return groups


def select(
    backbone: Any, layers: int | None = None, block_count: int | None = None, block_of: BlockOf | None = None
) -> list[Any]:
    """The layers to train: the top ``layers`` layers that have weights, or every layer with weights in the top
    ``block_count`` blocks; BatchNormalization excluded."""
    weighted = [layer for layer in backbone.layers if layer.weights and not is_batchnorm(layer)]
    if layers is not None:
        if not 0 <= layers <= len(weighted):
            raise RunnerError(
                "bad --unfreeze",
                received=layers,
                expected=f"0..{len(weighted)} (layers with weights in {backbone.name}, BatchNorm excluded)",
                fix="pass a smaller --unfreeze, or --unfreeze-blocks N",
            )
        return weighted[len(weighted) - layers :] if layers else []
    groups = [g for g in blocks(backbone, block_of) if g[0] != "stem"]
    n = 1 if block_count is None else block_count
    if not 0 <= n <= len(groups):
        raise RunnerError(
            "bad --unfreeze-blocks",
            received=n,
            expected=f"0..{len(groups)} ({backbone.name}'s blocks: {', '.join(g[0] for g in groups[-3:])} at the top)",
            fix="pass a smaller --unfreeze-blocks",
        )
    chosen = {id(layer) for _, group in groups[len(groups) - n :] for layer in group}
    return [layer for layer in weighted if id(layer) in chosen]


def apply(backbone: Any, chosen: list[Any]) -> None:
    """Freeze everything in ``backbone`` but ``chosen`` (BatchNormalization stays frozen either way)."""
    backbone.trainable = True
    keep = {id(layer) for layer in chosen}
    for layer in backbone.layers:
        layer.trainable = id(layer) in keep and not is_batchnorm(layer)
