"""The images a search trained and validated on, found again from its parent run (data, split, skipped files),
streamed for fine-tuning and for scoring a model on the search's own validation images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from runner.data.dataset import Dataset, split
from runner.data.load import load_dataset
from runner.data.stream import image_stream
from runner.errors import RunnerError
from runner.metrics import classification_metrics


@dataclass
class Split:
    train: Dataset
    train_rows: np.ndarray
    val: Dataset
    val_rows: np.ndarray

    def stream(self, which: str, size: int, batch_size: int, binary: bool, seed: int | None = None) -> Any:
        ds, rows = (self.train, self.train_rows) if which == "train" else (self.val, self.val_rows)
        return image_stream(ds, rows, ds.labels[rows], size, batch_size, binary, seed)


def _param(params: dict[str, str], key: str) -> str | None:
    value = params.get(key)
    return None if value in (None, "None") else value


def load_split(cl: Any, parent: Any) -> Split:
    """Re-create the search's split: same data, same usable images, same seed and validation fraction."""
    params = parent.data.params
    data = _param(params, "data")
    if data is None:
        raise RunnerError(
            "the search run does not say which data it used",
            received=parent.info.run_id,
            expected="a parent run made by `runner search`",
            fix="pass the parent run id printed by `runner search`",
        )
    per_class = _param(params, "per_class")
    ds = load_dataset(data, int(per_class) if per_class else None)
    skipped: set[str] = set()
    if _param(params, "n_skipped") not in (None, "0"):
        path = cl.download_artifacts(parent.info.run_id, "skipped_files.json")
        with open(path) as f:
            skipped = set(json.load(f)["skipped"])
    if _param(params, "n_excluded") not in (None, "0"):  # left out by --exclude: never trained or validated on
        path = cl.download_artifacts(parent.info.run_id, "excluded_files.json")
        with open(path) as f:
            skipped |= set(json.load(f)["excluded"])
    usable = np.array([i for i, n in enumerate(ds.names) if n not in skipped], dtype=np.int64)
    val_data = _param(params, "val_data")
    if val_data is not None:
        val = load_dataset(val_data)
        val_rows = np.array([i for i, n in enumerate(val.names) if n not in skipped], dtype=np.int64)
        return Split(ds, usable, val, val_rows)
    tr, va = split(ds.labels[usable], float(params.get("val_fraction", 0.2)), int(params.get("seed", 0)))
    return Split(ds, usable[tr], ds, usable[va])


def evaluate_model(model: Any, sp: Split, size: int, batch_size: int) -> dict[str, float]:
    """log_loss, accuracy and roc_auc of ``model`` on the search's validation images."""
    n_classes = max(int(model.output_shape[-1]), 2)
    return classification_metrics(sp.val.labels[sp.val_rows], val_proba(model, sp, size, batch_size), n_classes)


def val_proba(model: Any, sp: Split, size: int, batch_size: int) -> np.ndarray:
    """``model``'s probabilities on the search's validation images."""
    binary = int(model.output_shape[-1]) == 1
    return np.concatenate(
        [np.asarray(model.predict_on_batch(x)) for x, _ in sp.stream("val", size, batch_size, binary)]
    )
