"""``runner audit --model REF``: out-of-fold probabilities from a search's own head configuration (its backbone,
input size, weights, head and hyperparameters, read from the registered model's metadata) instead of the
linear head."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from runner.audit.config import AuditConfig
from runner.errors import RunnerError
from runner.features.rows import Rows


@dataclass(frozen=True)
class HeadChoice:
    head: str
    params: dict[str, Any]
    epochs: int


def configure(cfg: AuditConfig) -> tuple[AuditConfig, HeadChoice]:
    """The audit's backbone, size and weights taken from the model; its head configuration."""
    from runner import tracking
    from runner.use.load import load

    ref = f"runs:/{cfg.model}/model" if re.fullmatch(r"[0-9a-f]{32}", cfg.model or "") else str(cfg.model)
    meta = load(ref, cfg.tracking_uri).meta
    if "head" not in meta or "backbone" not in meta:
        raise RunnerError(
            "not a model from a runner search", received=cfg.model, expected="a search's model", fix="drop --model"
        )
    identity = str(meta.get("weights", ""))
    if identity.startswith("random:seed="):
        weights, seed = "none", int(identity.split("=")[-1])
    elif identity.startswith("imagenet:"):
        weights, seed = "imagenet", cfg.seed
    elif cfg.weights not in ("imagenet", "none"):
        weights, seed = cfg.weights, cfg.seed  # a weights file: the user names it again
    else:
        raise RunnerError(
            "the model's backbone weights came from a file",
            received=identity,
            expected="--weights PATH of that file",
            fix="pass --weights with the file the search used",
        )
    epochs = 30
    parent = meta.get("parent_run_id")
    if parent:
        cl = tracking.client(tracking.tracking_uri(cfg.tracking_uri))
        epochs = int(cl.get_run(parent).data.params.get("epochs", epochs))
    new = replace(cfg, backbone=meta["backbone"], image_size=int(meta["image_size"]), weights=weights, seed=seed)
    return new, HeadChoice(meta["head"], dict(meta.get("params", {})), epochs)


def out_of_fold(maps: np.ndarray, rows: np.ndarray, y: np.ndarray, choice: HeadChoice, folds: int, seed: int):
    """(n, K) probabilities, each from the head trained on the other folds of the cached feature maps."""
    from sklearn.model_selection import StratifiedKFold

    from runner.plugins.registry import get_head
    from runner.searching.train import fit_head

    head = get_head(choice.head)
    k = int(y.max()) + 1
    proba = np.zeros((len(y), k), dtype=np.float64)
    x = Rows((maps,), rows)
    for f, (tr, va) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(rows, y)):
        fit = fit_head(head, choice.params, x.subset(tr), y[tr], x.subset(va), y[va], k, choice.epochs, seed + f)
        p = np.asarray(fit.val_proba, dtype=np.float64)
        proba[va] = np.column_stack([1 - p[:, 0], p[:, 0]]) if p.shape[1] == 1 and k == 2 else p
    return proba
