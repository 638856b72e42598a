"""Fine-tuning and the search's blend: it starts from the search's best trial alone (its head as validated, before
the refit, so the validation images are unseen), and the model it registers re-applies the search's decisions:
mirror-image averaging when the search kept it, and a temperature re-fitted on its own validation predictions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from runner import tracking
from runner.features.endtoend import BEFORE_REFIT


def starting_model(loaded: Any, cl: Any) -> Any:
    """One end-to-end model (pixels -> preprocessing -> backbone -> head) to fine-tune: the search's model as it
    is when it is one model, else its best member (with the head weights of before the refit when logged)."""
    ens = loaded.meta.get("ensemble")
    if not ens:
        return loaded.model
    import keras

    best = next(m for m in ens["members"] if m["layer"] == ens["best_member"])
    pre, backbone, head = (loaded.model.get_layer(best[k]) for k in ("preprocess_layer", "backbone_layer", "layer"))
    if ens.get("refit") and "finetune_run_id" not in loaded.meta:
        arrays = tracking.load_arrays(cl, loaded.meta["parent_run_id"], BEFORE_REFIT)
        if arrays is not None:
            head.set_weights([arrays[f"w{i}"] for i in range(len(arrays))])
    inp = keras.Input((loaded.size, loaded.size, 3), name="image")
    return keras.Model(inp, head(backbone(pre(inp))), name=f"runner_{best['backbone']}")


def finished(
    model: Any, meta: dict[str, Any], n_classes: int, val_proba: Callable[[Any], np.ndarray], y_val: np.ndarray
) -> tuple[Any, dict[str, Any]]:
    """The fine-tuned single model with the search's test-time augmentation (when kept) and a temperature fitted on
    ``val_proba(model)`` (when the search calibrated); the updated ``ensemble`` metadata."""
    import keras

    from runner.features.layers import custom_layers
    from runner.finetuning.model import parts

    ens = meta.get("ensemble") or {}
    tta, calibrate = bool(ens.get("tta")), float(ens.get("temperature", 1.0)) != 1.0
    backbone, head = parts(model)
    pre = next(layer for layer in model.layers if layer.name.startswith("preprocess"))
    size = int(model.input_shape[1])

    def build(temperature: float) -> Any:
        inp = keras.Input((size, size, 3), name="image")
        views = [inp, custom_layers().MirrorImage(name="mirror")(inp)] if tta else [inp]
        outs = [head(backbone(pre(v))) for v in views]
        if len(outs) == 1 and temperature == 1.0:
            return keras.Model(inp, outs[0], name=model.name)
        blend = custom_layers().Blend([1.0 / len(outs)] * len(outs), temperature, name="blend")
        return keras.Model(inp, blend(outs), name=model.name)

    out, temperature = build(1.0), 1.0
    if calibrate:
        from runner.metrics import checked_temperature

        temperature = checked_temperature(val_proba(out), y_val, n_classes)
        out = build(temperature) if temperature != 1.0 else out
    member = {"trial": -1, "layer": head.name, "backbone": meta.get("backbone", ""), "weight": 1.0}
    member |= {"backbone_layer": backbone.name, "preprocess_layer": pre.name}
    return out, {"members": [member], "best_member": head.name, "tta": tta, "temperature": temperature, "refit": 0}
