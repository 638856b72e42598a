"""The end-to-end model: RGB pixels (0..255) -> preprocessing -> backbone -> head(s) -> one probability output.

One member is today's single model; several (an ensemble, possibly across backbones) share each backbone, which
runs once per image (twice with test-time augmentation: the image and its mirror), and their probabilities are
blended with the ensemble's weights, then temperature-scaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.data import images
from runner.features.cache import CacheEntry
from runner.features.extract import RANDOM_WEIGHTS_FILE, Weights, build_backbone
from runner.plugins.specs import BackboneSpec

if TYPE_CHECKING:  # pragma: no cover
    import keras

BEFORE_REFIT = "best_member_before_refit.npz"  # the best trial's head weights as validated (fine-tuning starts there)


@dataclass
class Member:
    """One trial's head on its backbone (with the weights its cached features came from), and its weight."""

    trial: int
    spec: BackboneSpec
    size: int
    weights: Weights
    entry: CacheEntry
    head_model: Any
    weight: float = 1.0
    backbone_layer: str = ""  # set by end_to_end: the names of its backbone and preprocessing layers
    preprocess_layer: str = ""
    name: str = ""  # a member that is not a trial (the search's probe): its name instead of a trial number

    @property
    def layer_name(self) -> str:
        return f"member_{self.name or self.trial}"


def end_to_end(members: list[Member], tta: bool = False, temperature: float = 1.0) -> keras.Model:
    """Assemble the model with the very backbone weights the cached features came from."""
    import keras

    from runner.features.layers import custom_layers
    from runner.plugins import preprocess

    size = members[0].size
    inp = keras.Input((size, size, 3), name="image")
    views = [inp, custom_layers().MirrorImage(name="mirror")(inp)] if tta else [inp]
    outputs, weights = [], []
    for i, name in enumerate(dict.fromkeys(m.spec.name for m in members)):  # each backbone once, members' order
        group = [m for m in members if m.spec.name == name]
        first = group[0]
        backbone = build_backbone(first.spec, size, first.weights, random_weights=first.entry.file(RANDOM_WEIGHTS_FILE))
        pre = preprocess.layer(first.spec.preprocess, name="preprocess" if i == 0 else f"preprocess_{name}")
        features = [backbone(pre(v)) for v in views]
        for m in group:
            m.backbone_layer, m.preprocess_layer = backbone.name, pre.name
            head_in = keras.Input(tuple(m.head_model.input_shape[1:]), name=f"{m.layer_name}_features")
            head = keras.Model(head_in, m.head_model(head_in), name=m.layer_name)
            for f in features:
                outputs.append(head(f))
                weights.append(m.weight / len(features))
    if len(outputs) == 1 and temperature == 1.0:
        out = outputs[0]
    else:
        out = custom_layers().Blend(weights, temperature, name="blend")(outputs)
    title = members[0].spec.name if len({m.spec.name for m in members}) == 1 else "ensemble"
    return keras.Model(inp, out, name=f"runner_{title}")


def model_metadata(spec: BackboneSpec, size: int, weights: Weights, classes: list[str], extra: dict[str, Any]) -> dict:
    """What prediction needs to decode and resize exactly as training did."""
    return {
        "runner_format": 1,
        "classes": list(classes),
        "image_size": size,
        "input": "RGB uint8 values as float32, 0..255, (size, size, 3)",
        "decode": "opencv imdecode -> RGB (gray/RGBA/16-bit converted)",
        "resize": images.RESIZE,
        "backbone": spec.name,
        "preprocess": spec.preprocess,
        "weights": weights.identity,
        "output": "sigmoid P(classes[1])" if len(classes) == 2 else "softmax over classes",
        **extra,
    }
