"""The pieces ``runner.finetune`` trains: the backbone and head inside runner's end-to-end model, the model with
augmentation layers in front, and the callback that reports progress, logs metrics and checkpoints the best."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runner import interrupts, tracking
from runner.errors import RunnerError
from runner.features.augment import Policy


def parts(model: Any) -> tuple[Any, Any]:
    """(backbone, head) inside runner's end-to-end model: the nested models, head last."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) < 2:
        raise RunnerError(
            "not a runner end-to-end model",
            received=model.name,
            expected="pixels -> preprocessing -> backbone model -> head model",
            fix="fine-tune a model registered by `runner search`",
        )
    return nested[-2], nested[-1]


def augmented(model: Any, size: int, policy: Policy) -> Any:
    import keras

    layers = keras.layers
    inp = keras.Input((size, size, 3), name="image")
    x = layers.RandomFlip("horizontal")(inp) if policy.flip else inp
    x = layers.RandomRotation(policy.rotation / 360.0, fill_mode="reflect")(x)
    x = layers.RandomZoom(policy.zoom, fill_mode="reflect")(x)
    x = layers.RandomTranslation(policy.shift, policy.shift, fill_mode="reflect")(x)
    x = layers.RandomContrast(policy.contrast, value_range=(0, 255))(x) if policy.contrast else x
    return keras.Model(inp, model(x), name="finetune")


@dataclass(frozen=True)
class Where:
    """A fine-tuning run: its MLflow client and run id, and its checkpoint folder."""

    client: Any
    run_id: str
    ckpt: Path


@dataclass
class Progress:
    """What the per-epoch callback needs: the phase, its epochs, where to report, the model to checkpoint, the best
    validation loss so far (shared across phases, so only an improvement is checkpointed), the first epoch."""

    phase: str
    epochs: int
    emit: Callable[[str, dict[str, Any]], None]
    where: Where
    inner: Any
    best: list[float]
    offset: int


def watch(p: Progress) -> Any:
    """A Keras callback: progress with ETA per phase, per-epoch MLflow metrics, and the best model so far saved
    as a checkpoint (with the phase and epoch reached) so that an interrupted run can continue."""
    import keras

    class Watch(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.history: dict[str, list[float]] = {}
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            interrupts.check()  # a Ctrl+C that a finalizer swallowed stops here
            logs = {k: float(v) for k, v in (logs or {}).items()}
            for k, v in logs.items():
                self.history.setdefault(k, []).append(v)
            done = epoch + 1 - p.offset
            eta = (time.perf_counter() - self.t0) / max(done, 1) * (p.epochs - epoch - 1)
            p.emit("epoch", {"phase": p.phase, "epoch": epoch + 1, "epochs": p.epochs, "eta": eta} | logs)
            w = p.where
            tracking.log_metrics(w.client, w.run_id, {f"{p.phase}_{k}": v for k, v in logs.items()}, epoch)
            if logs.get("val_loss", np.inf) < p.best[0]:
                p.best[0] = logs["val_loss"]
                p.inner.save(w.ckpt / "model.keras")
            state = {"phase": p.phase, "epoch": epoch + 1, "best_val_loss": p.best[0]}
            (w.ckpt / "state.json").write_text(json.dumps(state))

    return Watch()


def previous(cl: Any, exp_id: str, parent_id: str, root: Path) -> tuple[str, dict] | None:
    """The latest unfinished finetune run of this search that left a checkpoint."""
    runs = cl.search_runs(
        [exp_id],
        f"tags.mlflow.parentRunId = '{parent_id}' and tags.runner = 'finetune'",
        order_by=["attributes.start_time DESC"],
    )
    for r in runs:
        state = root / r.info.run_id / "state.json"
        if r.info.status != "FINISHED" and state.is_file():
            return r.info.run_id, json.loads(state.read_text())
    return None
