"""``runner.audit()``: wrong labels, duplicates, leaks into a test set, outliers and unreadable files, found on
cached backbone features (extracted once, shared with ``runner search``), reported as JSON, CSV and HTML and
logged as an MLflow audit run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from runner.audit import labels, neighbours
from runner.audit import model as audit_model
from runner.audit.config import AuditConfig
from runner.audit.records import AuditResult, Pooled
from runner.audit.report import write
from runner.data.dataset import Dataset
from runner.data.load import load_dataset
from runner.errors import DataError
from runner.features.cache import FeatureCache
from runner.features.extract import get_features, resolve_weights
from runner.options import config_of
from runner.plugins.code import load_code
from runner.plugins.registry import get_backbone
from runner.plugins.specs import input_size

Event = Callable[[str, dict[str, Any]], None]
POOL_BLOCK = 256  # rows pooled at a time: bounded memory at any size


def _pooled(ds: Dataset, cfg: AuditConfig, cache: FeatureCache, emit: Event) -> Pooled:
    spec = get_backbone(cfg.backbone)
    size = input_size(spec, cfg.image_size, cfg.data == "demo")
    weights = resolve_weights(spec, cfg.weights, size, cfg.seed, cache.hash_index)

    def progress(done: int, total: int, secs: float) -> None:
        emit("extract", {"done": done, "total": total, "seconds": secs})

    entry, _ = get_features(ds, spec, size, weights, cache, progress=progress)
    bad = set(entry.meta.get("skipped", []))
    rows = np.array([i for i in range(len(ds)) if i not in bad], dtype=np.int64)
    maps = entry.features()
    x = np.empty((len(rows), maps.shape[-1]), dtype=np.float32)
    for lo in range(0, len(rows), POOL_BLOCK):
        part = np.asarray(maps[rows[lo : lo + POOL_BLOCK]], dtype=np.float32)
        x[lo : lo + len(part)] = part.reshape(len(part), -1, maps.shape[-1]).mean(axis=1)
    return Pooled(ds, rows, x, [ds.names[i] for i in sorted(bad)], maps)


def _exact(pool: Pooled) -> list[tuple[list[int], float]]:
    """Groups of identical files (same content hash, whatever the name or format), as positions in pool.rows."""
    by_hash: dict[str, list[int]] = {}
    digests = pool.ds.digests()
    for k, i in enumerate(pool.rows):
        by_hash.setdefault(digests[i], []).append(k)
    return [(sorted(g), 1.0) for g in by_hash.values() if len(g) > 1]


def _group_rows(pool: Pooled, found: list[tuple[list[int], float]], kind: str) -> list[dict[str, Any]]:
    ds = pool.ds
    return [
        {
            "paths": [ds.names[pool.rows[k]] for k in members],
            "similarity": round(sim, 4),
            "kind": kind,
            "labels": [ds.classes[ds.labels[pool.rows[k]]] for k in members],
        }
        for members, sim in found
    ]


def _duplicates(pool: Pooled, z: np.ndarray, near: neighbours.Neighbours) -> list[dict[str, Any]]:
    exact = _exact(pool)
    same = {frozenset(m) for m, _ in exact}
    near_groups = [g for g in neighbours.groups(len(z), near.pairs) if frozenset(g[0]) not in same]
    return _group_rows(pool, exact, "exact") + _group_rows(pool, near_groups, "near")


def _leaks(train: Pooled, test: Pooled, zt: np.ndarray, zs: np.ndarray, threshold: float) -> list[dict[str, Any]]:
    digests = train.ds.digests()
    where = {digests[i]: k for k, i in enumerate(train.rows)}
    test_digests = test.ds.digests()
    hits = {(k, where[test_digests[i]]): 1.0 for k, i in enumerate(test.rows) if test_digests[i] in where}
    for a, b, s in neighbours.across(zs, zt, threshold):
        hits.setdefault((a, b), s)
    out = []
    for (a, b), s in sorted(hits.items(), key=lambda kv: -kv[1]):
        ta, tb = test.rows[a], train.rows[b]
        out.append(
            {
                "paths": [f"test:{test.ds.names[ta]}", train.ds.names[tb]],
                "similarity": round(s, 4),
                "kind": "exact" if s == 1.0 and test_digests[ta] == digests[tb] else "near",
                "labels": [test.ds.classes[test.ds.labels[ta]], train.ds.classes[train.ds.labels[tb]]],
            }
        )
    return out


def audit(config: AuditConfig | str | None = None, /, *, on_event: Event | None = None, **options: Any) -> AuditResult:
    """Audit a labelled dataset (an :class:`AuditConfig`, or its fields as keywords; the first positional argument
    is ``data``)."""
    cfg = config_of(AuditConfig, config, options, "audit", first="data")
    emit: Event = on_event or (lambda kind, payload: None)
    t0 = time.perf_counter()
    for path in cfg.code:
        load_code(path)
    choice = None
    if cfg.model:  # the search's backbone, size, weights and head configuration
        cfg, choice = audit_model.configure(cfg)
    ds = load_dataset(cfg.data)
    test_ds = load_dataset(cfg.test) if cfg.test else None
    cache = FeatureCache(cfg.cache_dir)
    ds.digests(cache.hash_index)
    train = _pooled(ds, cfg, cache, emit)
    test = _pooled(test_ds, cfg, cache, emit) if test_ds is not None else None
    t_loaded = time.perf_counter()
    y = ds.labels[train.rows]
    counts = np.bincount(y, minlength=len(ds.classes))
    if (counts < cfg.folds).any():
        small = {c: int(n) for c, n in zip(ds.classes, counts, strict=True) if n < cfg.folds}
        raise DataError(
            "a class has fewer images than --folds", received=small, expected=f">= {cfg.folds}", fix="lower --folds"
        )
    proba = None
    if choice is not None and train.maps is not None:
        proba = audit_model.out_of_fold(train.maps, train.rows, y, choice, cfg.folds, cfg.seed)
    issues = labels.find(train.x, y, cfg.folds, cfg.seed, proba)
    z = neighbours.normalised(train.x)
    near = neighbours.scan(z, cfg.similarity)
    cut = neighbours.outlier_cut(near.knn)
    order = np.argsort(-near.knn)
    result = AuditResult(
        label_issues=[
            {
                "path": ds.names[train.rows[i]],
                "given": ds.classes[y[i]],
                "suggested": ds.classes[int(s)],
                "score": round(float(p), 4),
            }
            for i, s, p in zip(issues.indices, issues.suggested, issues.score, strict=True)
        ],
        duplicates=_duplicates(train, z, near),
        leaks=[] if test is None else _leaks(train, test, z, neighbours.normalised(test.x), cfg.similarity),
        outliers=[
            {"path": ds.names[train.rows[i]], "score": round(float(near.knn[i]), 4)} for i in order if near.knn[i] > cut
        ],
        unreadable=train.unreadable + ([f"test:{n}" for n in test.unreadable] if test else []),
        classes={c: int(n) for c, n in zip(ds.classes, np.bincount(ds.labels, minlength=len(ds.classes)), strict=True)},
    )
    t_found = time.perf_counter()
    write(result, cfg, train, test, emit)
    result.seconds = {
        "features": round(t_loaded - t0, 3),
        "audit": round(t_found - t_loaded, 3),
        "report": round(time.perf_counter() - t_found, 3),
    }
    return result
