"""Before the search: every backbone's cached features (extracted on a miss), the usable images, the split."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from runner.data.dataset import Dataset, check_usable, split
from runner.features.augment import Mirror, View
from runner.features.cache import CacheEntry
from runner.features.extract import Weights, get_features
from runner.features.rows import Rows
from runner.plugins.specs import BackboneSpec
from runner.searching.arrays import Arrays
from runner.searching.opening import Opened

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


@dataclass
class Prepared:
    sets: dict[str, FeatureSet]
    arrays: dict[str, Arrays]
    ds: Dataset  # usable training images
    skipped: list[str]
    excluded: list[str]  # left out by --exclude

    @property
    def hit(self) -> bool:
        return all(fs.hit for fs in self.sets.values())


def _skipped(entry: CacheEntry | None) -> set[int]:
    return set(entry.meta.get("skipped", [])) if entry is not None else set()


def _usable(ds: Dataset, bad: set[int], what: str) -> tuple[Dataset, np.ndarray]:
    rows = np.array([i for i in range(len(ds)) if i not in bad], dtype=np.int64)
    out = ds.subset(rows)
    check_usable(out, what)
    return out, rows


def _rows(entry: CacheEntry, rows: np.ndarray) -> Rows:
    """Positions into the entry's memory-mapped file: nothing is read until a fit reads it."""
    return Rows((entry.features(),), rows)


def prepare(opened: Opened, emit: Event) -> Prepared:
    """Every backbone's cached features (extracted on a miss), the usable images and the split; with
    ``--augment-views`` K > 0, also K augmented views of every training image, each its own cache entry."""
    cfg = opened.config
    ds, val_ds, cache, seed = opened.ds, opened.val_ds, opened.cache, cfg.seed

    def progress(done: int, total: int, secs: float) -> None:
        emit("extract", {"done": done, "total": total, "seconds": secs})

    def waiting(key: str) -> None:
        emit("warning", {"message": f"another worker is extracting cache entry {key}; waiting to reuse it"})

    sets: dict[str, FeatureSet] = {}
    for spec in opened.specs:
        w, size = opened.weights[spec.name], opened.sizes[spec.name]
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
        opts: dict[str, Any] = {"progress": progress, "rehash": cfg.rehash, "on_wait": waiting}
        entry, hit = get_features(ds, spec, size, w, cache, **opts)
        val_entry, val_hit = get_features(val_ds, spec, size, w, cache, **opts) if val_ds else (None, True)
        sets[spec.name] = FeatureSet(spec, size, w, entry, val_entry, hit and val_hit, time.perf_counter() - t)
    bad = set().union(*(_skipped(fs.entry) for fs in sets.values()))
    val_bad = set().union(*(_skipped(fs.val_entry) for fs in sets.values()))
    skipped = [ds.names[i] for i in sorted(bad)] + ([val_ds.names[i] for i in sorted(val_bad)] if val_ds else [])
    if skipped:
        more = " ..." if len(skipped) > 5 else ""
        emit("warning", {"message": f"skipped {len(skipped)} undecodable file(s): {', '.join(skipped[:5])}{more}"})
    excluded = [ds.names[i] for i in opened.excluded]
    ds, rows = _usable(ds, bad | set(opened.excluded), "training data")
    arrays: dict[str, Arrays] = {}
    n = len(ds.classes)
    if val_ds is not None:
        val_ds, val_rows = _usable(val_ds, val_bad, "validation data")
        for name, fs in sets.items():
            assert fs.val_entry is not None
            arrays[name] = Arrays(_rows(fs.entry, rows), ds.labels, _rows(fs.val_entry, val_rows), val_ds.labels, n)
        tr = np.arange(len(ds))
    else:
        tr, va = split(ds.labels, cfg.val_fraction, seed)
        for name, fs in sets.items():
            x = _rows(fs.entry, rows)
            arrays[name] = Arrays(x.subset(tr), ds.labels[tr], x.subset(va), ds.labels[va], n)
    if cfg.tta:  # mirror images of the rows a trial is scored on: test-time augmentation is decided on them
        scored = val_ds if val_ds is not None and cfg.folds <= 1 else ds.subset(tr if cfg.folds > 1 else va)
        for name, fs in sets.items():
            t = time.perf_counter()
            emit("views", {"backbone": name, "view": "mirror", "views": 1})
            entry, hit = get_features(
                scored, fs.spec, fs.size, fs.weights, cache, progress=progress, view=Mirror(scored), plain=fs.entry
            )
            fs.hit, fs.seconds = fs.hit and hit, fs.seconds + time.perf_counter() - t
            arrays[name].mirror = Rows((entry.features(),), np.arange(len(scored)))
    views, policy = cfg.augment_views, cfg.policy
    if views:
        train_ds = ds.subset(tr)
        for name, fs in sets.items():
            sources = []
            t = time.perf_counter()
            for k in range(views):
                emit("views", {"backbone": name, "view": k + 1, "views": views})
                view = View(train_ds, policy, seed, k)
                entry, hit = get_features(
                    train_ds, fs.spec, fs.size, fs.weights, cache, progress=progress, view=view, plain=fs.entry
                )
                fs.hit = fs.hit and hit
                sources.append(entry.features())  # memory-mapped; row j is training image j
            fs.seconds += time.perf_counter() - t
            arrays[name].x_views = Rows(tuple(sources), np.arange(len(train_ds)))
    return Prepared(sets, arrays, ds, skipped, excluded)
