"""``runner.search()``: images -> cached backbone features -> Optuna head search -> MLflow, best model registered."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from runner import options, tracking
from runner import study as studies
from runner.cache import CacheEntry, FeatureCache
from runner.data import Dataset, check_usable, load_dataset, split
from runner.errors import DataError
from runner.features import Weights, get_features, resolve_weights
from runner.finalize import SearchResult, finalize
from runner.objective import Arrays, Objective
from runner.registry import backbones as backbone_registry
from runner.registry import get_backbone, get_head, heads, load_code
from runner.specs import BackboneSpec

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class FeatureSet:
    """One backbone's cached features for the training (and explicit validation) data."""

    spec: BackboneSpec
    size: int
    weights: Weights
    entry: CacheEntry
    val_entry: CacheEntry | None
    hit: bool
    seconds: float


def _skipped(entry: CacheEntry | None) -> set[int]:
    return set(entry.meta.get("skipped", [])) if entry is not None else set()


def _usable(ds: Dataset, bad: set[int], what: str) -> tuple[Dataset, np.ndarray]:
    rows = np.array([i for i in range(len(ds)) if i not in bad], dtype=np.int64)
    out = ds.subset(rows)
    check_usable(out, what)
    return out, rows


def _load(entry: CacheEntry, rows: np.ndarray) -> np.ndarray:
    return np.asarray(entry.features()[rows], dtype=np.float32)


def search(
    data: str = "demo",
    *,
    val_data: str | None = None,
    backbone: str | list[str] = "vgg16",
    head: str | list[str] = "dense",
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
    code: list[str] | None = None,
    rehash: bool = False,
    on_event: Event | None = None,
) -> SearchResult:
    """Run a search; ``backbone`` and ``head`` may list several names, making them searched choices."""
    emit: Event = on_event or (lambda kind, payload: None)
    t0 = time.perf_counter()
    options.check_scalars(
        trials=trials,
        epochs=epochs,
        metric=metric,
        val_fraction=val_fraction,
        explicit_val=val_data is not None,
        timeout=timeout,
    )
    for path in code or []:
        load_code(path)
    specs = [get_backbone(n) for n in options.names(backbone, "backbone")]
    head_objs = {n: get_head(n) for n in options.names(head, "head")}
    weights_for = options.weights_map(weights, [s.name for s in specs])
    sizes = options.image_sizes(specs, image_size, demo=str(data) == "demo")

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
    cache = FeatureCache(cache_dir)
    resolved = {s.name: resolve_weights(s, weights_for[s.name], sizes[s.name], seed, cache.hash_index) for s in specs}
    prefix = f"{ds.name}-{'+'.join(s.name for s in specs)}-"
    st = studies.open_study(storage_url, study, prefix, resume, seed, maximize=metric == "accuracy")

    def progress(done: int, total: int, secs: float) -> None:
        emit("extract", {"done": done, "total": total, "seconds": secs})

    sets: dict[str, FeatureSet] = {}
    for spec in specs:
        w, size = resolved[spec.name], sizes[spec.name]
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
        t = time.perf_counter()
        entry, hit = get_features(ds, spec, size, w, cache, progress=progress, rehash=rehash)
        val_entry, val_hit = (
            get_features(val_ds, spec, size, w, cache, progress=progress, rehash=rehash) if val_ds else (None, True)
        )
        sets[spec.name] = FeatureSet(spec, size, w, entry, val_entry, hit and val_hit, time.perf_counter() - t)
    first = sets[specs[0].name]
    bad = set().union(*(_skipped(fs.entry) for fs in sets.values()))
    val_bad = set().union(*(_skipped(fs.val_entry) for fs in sets.values()))
    skipped = [ds.names[i] for i in sorted(bad)] + ([val_ds.names[i] for i in sorted(val_bad)] if val_ds else [])
    if skipped:
        more = " ..." if len(skipped) > 5 else ""
        emit("warning", {"message": f"skipped {len(skipped)} undecodable file(s): {', '.join(skipped[:5])}{more}"})
    ds, rows = _usable(ds, bad, "training data")
    arrays: dict[str, Arrays] = {}
    if val_ds is not None:
        val_ds, val_rows = _usable(val_ds, val_bad, "validation data")
        for name, fs in sets.items():
            arrays[name] = Arrays(
                _load(fs.entry, rows), ds.labels, _load(fs.val_entry, val_rows), val_ds.labels, len(ds.classes)
            )
    else:
        tr, va = split(ds.labels, val_fraction, seed)
        for name, fs in sets.items():
            x = _load(fs.entry, rows)
            arrays[name] = Arrays(x[tr], ds.labels[tr], x[va], ds.labels[va], len(ds.classes))
    n_train, n_val = len(arrays[first.spec.name].y_train), len(arrays[first.spec.name].y_val)

    cl = tracking.client(uri)
    exp_id = tracking.experiment_id(cl, uri, experiment)
    fingerprint = first.entry.meta["parts"]["data"]
    parent_id = tracking.parent_run(cl, exp_id, st, fingerprint, ds.name)
    sources = {n: backbone_registry.entry(n).source for n in sets} | {n: heads.entry(n).source for n in head_objs}
    hit = all(fs.hit for fs in sets.values())
    tracking.log_params(
        cl,
        parent_id,
        {
            "data": str(data),
            "layout": ds.layout,
            "classes": ",".join(ds.classes),
            "n_images": len(ds),
            "n_train": n_train,
            "n_val": n_val,
            "class_counts": ds.counts(),
            "n_skipped": len(skipped),
            "data_fingerprint": fingerprint,
            "backbone": ",".join(sets),
            "head": ",".join(head_objs),
            "weights": ",".join(fs.weights.identity for fs in sets.values()),
            "image_size": ",".join(str(fs.size) for fs in sets.values()),
            "sources": sources,
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
            "feature_shape": {n: list(a.x_train.shape[1:]) for n, a in arrays.items()},
        },
    )
    if resume:
        cl.set_tag(parent_id, "resumed_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
    cl.set_tag(parent_id, "cache_hit", str(hit).lower())
    cl.set_tag(parent_id, "cache_key", ",".join(fs.entry.key for fs in sets.values()))
    if skipped:
        cl.log_dict(parent_id, {"skipped": skipped}, "skipped_files.json")

    objective = Objective(head_objs, arrays, epochs, seed, metric, cl, exp_id, parent_id, emit, sources)
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
        result = finalize(str(data), st, objective, sets, ds, cl, uri, parent_id, register_name)
    except BaseException:
        cl.set_terminated(parent_id, status="FAILED")
        raise
    winner = sets[result.backbone]
    result.cache = {
        "hit": hit,
        "key": winner.entry.key,
        "dir": str(cache.root),
        "keys": {n: fs.entry.key for n, fs in sets.items()},
    }
    result.data = {
        "name": ds.name,
        "layout": ds.layout,
        "classes": ds.classes,
        "n_train": n_train,
        "n_val": n_val,
        "skipped": skipped,
    }
    result.seconds = {
        "features": round(sum(fs.seconds for fs in sets.values()), 3),
        "search": round(search_seconds, 3),
        "total": round(time.perf_counter() - t0, 3),
    }
    result.storage = storage_url
    tracking.log_metrics(cl, parent_id, {f"seconds_{k}": v for k, v in result.seconds.items()})
    cl.set_terminated(parent_id, status="FINISHED")
    return result
