"""``runner.search()``: images -> cached backbone features -> Optuna head search -> MLflow, best model registered."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from runner import study as studies
from runner import tracking
from runner.cache import FeatureCache
from runner.data import Dataset, check_usable, load_dataset, split
from runner.errors import DataError, RunnerError
from runner.features import get_features, resolve_weights
from runner.finalize import SearchResult, finalize
from runner.objective import Arrays, Objective
from runner.registry import get_backbone, get_head

Event = Callable[[str, dict[str, Any]], None]
METRICS = ("log_loss", "accuracy")


def _check(cond: bool, what: str, received: object, expected: str, fix: str) -> None:
    if not cond:
        raise RunnerError(what, received=received, expected=expected, fix=fix)


def _features_for(ds: Dataset, entry: Any) -> tuple[Dataset, np.ndarray]:
    """Drop undecodable rows; return the usable dataset and its positions in the cache entry."""
    bad = set(entry.meta.get("skipped", []))
    keep = np.array([i for i in range(len(ds)) if i not in bad], dtype=np.int64)
    return ds.subset(keep), keep


def _load(entry: Any, rows: np.ndarray) -> np.ndarray:
    return np.asarray(entry.features()[rows], dtype=np.float32)


def search(
    data: str = "demo",
    *,
    val_data: str | None = None,
    backbone: str = "vgg16",
    head: str = "dense",
    weights: str = "imagenet",
    image_size: int | None = None,
    per_class: int | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    trials: int = 30,
    timeout: float | None = None,
    epochs: int = 30,
    metric: str = "log_loss",
    storage: str | None = None,
    study: str | None = None,
    resume: bool = False,
    tracking_uri: str | None = None,
    experiment: str = "runner",
    register_name: str | None = None,
    cache_dir: str | None = None,
    on_event: Event | None = None,
) -> SearchResult:
    """Run a head search; see ``runner search --help`` for the meaning of every argument."""
    emit: Event = on_event or (lambda kind, payload: None)
    t0 = time.perf_counter()
    _check(isinstance(trials, int) and trials >= 1, "bad --trials", trials, "an integer >= 1", "pass e.g. --trials 30")
    _check(isinstance(epochs, int) and epochs >= 1, "bad --epochs", epochs, "an integer >= 1", "pass e.g. --epochs 30")
    _check(metric in METRICS, "bad --metric", metric, " or ".join(METRICS), "pass --metric log_loss")
    _check(
        val_data is not None or 0.0 < val_fraction < 1.0,
        "bad --val-fraction",
        val_fraction,
        "a number strictly between 0 and 1",
        "pass e.g. --val-fraction 0.2",
    )
    _check(
        timeout is None or timeout > 0, "bad --timeout", timeout, "seconds > 0", "drop it or pass e.g. --timeout 600"
    )
    spec = get_backbone(backbone)
    head_obj = get_head(head)
    size = image_size or (spec.min_size if str(data) == "demo" else spec.default_size)
    _check(
        isinstance(size, int) and size >= spec.min_size,
        "image size too small for the backbone",
        size,
        f"an integer >= {spec.min_size} for {spec.name}",
        f"pass --image-size {max(spec.min_size, 32)} or larger",
    )

    ds = load_dataset(data, per_class)
    val_ds = load_dataset(val_data) if val_data is not None else None
    if val_ds is not None and val_ds.classes != ds.classes:
        raise DataError(
            "validation classes differ from training classes",
            received=val_ds.classes,
            expected=str(ds.classes),
            fix="use the same class names in --val-data",
        )

    uri = tracking.tracking_uri(tracking_uri)
    storage_url = storage or tracking.default_storage(uri)
    prefix = f"{ds.name}-{spec.name}-"
    w = resolve_weights(spec, weights, size, seed)
    st = studies.open_study(storage_url, study, prefix, resume, seed, maximize=metric == "accuracy")
    emit(
        "data",
        {
            "name": ds.name,
            "layout": ds.layout,
            "classes": ds.classes,
            "n": len(ds),
            "backbone": spec.name,
            "size": size,
            "weights": w.identity,
        },
    )

    cache = FeatureCache(cache_dir)

    def progress(done: int, total: int, secs: float) -> None:
        emit("extract", {"done": done, "total": total, "seconds": secs})

    t_feat = time.perf_counter()
    entry, hit = get_features(ds, spec, size, w, cache, progress=progress)
    val_entry, val_hit = get_features(val_ds, spec, size, w, cache, progress=progress) if val_ds else (None, True)
    feat_seconds = time.perf_counter() - t_feat
    skipped = list(entry.meta.get("skipped_names", [])) + list(
        val_entry.meta.get("skipped_names", []) if val_entry else []
    )
    if skipped:
        emit(
            "warning",
            {
                "message": f"skipped {len(skipped)} undecodable file(s): {', '.join(skipped[:5])}"
                + (" ..." if len(skipped) > 5 else "")
            },
        )
    ds, rows = _features_for(ds, entry)
    check_usable(ds, "training data")
    if val_ds is not None:
        val_ds, val_rows = _features_for(val_ds, val_entry)
        check_usable(val_ds, "validation data")
        arrays = Arrays(_load(entry, rows), ds.labels, _load(val_entry, val_rows), val_ds.labels, len(ds.classes))
    else:
        tr, va = split(ds.labels, val_fraction, seed)
        x = _load(entry, rows)
        arrays = Arrays(x[tr], ds.labels[tr], x[va], ds.labels[va], len(ds.classes))

    cl = tracking.client(uri)
    exp_id = tracking.experiment_id(cl, uri, experiment)
    parent_id = tracking.parent_run(cl, exp_id, st, entry.meta["parts"]["data"], ds.name)
    tracking.log_params(
        cl,
        parent_id,
        {
            "data": str(data),
            "layout": ds.layout,
            "classes": ",".join(ds.classes),
            "n_images": len(ds),
            "n_train": len(arrays.y_train),
            "n_val": len(arrays.y_val),
            "class_counts": ds.counts(),
            "n_skipped": len(skipped),
            "data_fingerprint": entry.meta["parts"]["data"],
            "backbone": spec.name,
            "weights": w.identity,
            "image_size": size,
            "head": head_obj.name,
            "trials": trials,
            "epochs": epochs,
            "metric": metric,
            "seed": seed,
            "val_fraction": val_fraction if val_ds is None else "explicit",
            "val_data": str(val_data),
            "per_class": per_class,
            "timeout": timeout,
            "study": st.study_name,
            "storage": storage_url,
            "feature_shape": list(arrays.x_train.shape[1:]),
        },
    )
    if resume:
        cl.set_tag(parent_id, "resumed_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
    cl.set_tag(parent_id, "cache_hit", str(hit and val_hit).lower())
    cl.set_tag(parent_id, "cache_key", entry.key)
    if skipped:
        cl.log_dict(parent_id, {"skipped": skipped}, "skipped_files.json")

    objective = Objective(head_obj, arrays, epochs, seed, metric, cl, exp_id, parent_id, emit)
    stale = studies.fail_stale(st)
    remaining = trials - studies.finished(st)
    emit("search", {"study": st.study_name, "remaining": max(remaining, 0), "stale": stale, "parent_run_id": parent_id})
    t_search = time.perf_counter()
    try:
        if remaining > 0:
            st.optimize(objective, n_trials=remaining, timeout=timeout, gc_after_trial=True)
    except BaseException:
        cl.set_terminated(parent_id, status="KILLED")
        raise
    search_seconds = time.perf_counter() - t_search
    try:
        result = finalize(st, objective, spec, size, w, entry, ds, data, cl, uri, parent_id, register_name)
    except BaseException:
        cl.set_terminated(parent_id, status="FAILED")
        raise
    result.cache = {"hit": bool(hit and val_hit), "key": entry.key, "dir": str(cache.root)}
    result.data = {
        "name": ds.name,
        "layout": ds.layout,
        "classes": ds.classes,
        "n_train": int(len(arrays.y_train)),
        "n_val": int(len(arrays.y_val)),
        "skipped": skipped,
    }
    result.seconds = {
        "features": round(feat_seconds, 3),
        "search": round(search_seconds, 3),
        "total": round(time.perf_counter() - t0, 3),
    }
    result.storage = storage_url
    tracking.log_metrics(cl, parent_id, {f"seconds_{k}": v for k, v in result.seconds.items()})
    cl.set_terminated(parent_id, status="FINISHED")
    return result
