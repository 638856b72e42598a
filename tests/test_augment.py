"""Augmentation at cached cost: views are reproducible, cached under their own keys, reused, and searched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_folders

import runner
from runner import tracking
from runner.data.load import load_dataset
from runner.errors import RunnerError
from runner.features.augment import Policy, View
from runner.features.cache import FeatureCache

SMALL = {"backbone": "tiny_cnn", "weights": "none", "image_size": 32, "epochs": 3}


def test_policy_parse_and_views_are_reproducible(folders: Path) -> None:
    assert Policy.parse("rotation=30,flip=0") == Policy(flip=False, rotation=30.0)
    for bad in ("spin=3", "zoom=2", "rotation=", "zoom=abc"):
        with pytest.raises(RunnerError, match="bad --augment-policy"):
            Policy.parse(bad)
    ds = load_dataset(folders)
    v0, v1 = View(ds, Policy(), 0, 0), View(ds, Policy(), 0, 1)
    assert np.array_equal(v0.image(3, 32), View(ds, Policy(), 0, 0).image(3, 32))
    assert not np.array_equal(v0.image(3, 32), v1.image(3, 32))
    assert v0.image(3, 32).shape == (32, 32, 3) and v0.image(3, 32).dtype == np.uint8


def test_views_are_cached_reused_and_keyed_by_policy(workdir: Path) -> None:
    root = make_folders(workdir / "train", per_class=10)
    kinds: list[str] = []
    r = runner.search(str(root), trials=3, augment_views=2, on_event=lambda k, p: kinds.append(k), **SMALL)
    cache = FeatureCache()
    entries = cache.entries()
    # plain, 2 augmented views of the training images, the mirror images of the validation images
    assert sorted(str(e.meta.get("view")) for e in entries) == ["0", "1", "None", "mirror"]
    assert {e.meta["n"] for e in entries if e.meta.get("view") in (0, 1)} == {r.data["n_train"]}
    assert {e.meta["n"] for e in entries if e.meta.get("view") == "mirror"} == {r.data["n_val"]}
    assert r.cache["hit"] is False and kinds.count("views") == 3

    kinds.clear()
    again = runner.search(str(root), trials=1, augment_views=2, on_event=lambda k, p: kinds.append(k), **SMALL)
    assert again.cache["hit"] is True and "extract" not in kinds and len(cache.entries()) == 4

    kinds.clear()
    other = runner.search(
        str(root),
        trials=1,
        augment_views=2,
        augment_policy="rotation=5",
        on_event=lambda k, p: kinds.append(k),
        **SMALL,
    )
    assert other.cache["hit"] is False and len(cache.entries()) == 6  # two new views, plain and mirror reused
    assert "extract" in kinds

    cl = tracking.client(tracking.tracking_uri())
    parent = cl.get_run(r.parent_run_id)
    assert parent.data.tags["augment_won"] and parent.data.params["augment_views"] == "2"
    children = [
        x for x in cl.search_runs([r.experiment_id]) if x.data.tags.get("mlflow.parentRunId") == r.parent_run_id
    ]
    assert {c.data.params["augment_views"] for c in children} <= {"0", "1", "2"} and len(children) == 3


def test_training_on_views_differs_from_plain(workdir: Path) -> None:
    from heads.dense import DenseHead
    from runner.searching.train import fit_head

    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2, 2, 4)).astype("float32")
    y = (x[:, 0, 0, 0] > 0).astype("int64")
    views = np.stack([x + rng.normal(scale=0.5, size=x.shape).astype("float32") for _ in range(3)])
    params = {"pooling": "avg", "width": 8, "dropout": 0.0, "learning_rate": 1e-2, "optimizer": "adam", "batch_size": 8}
    plain = fit_head(DenseHead(), params, x, y, x, y, 2, 3, seed=1)
    aug = fit_head(DenseHead(), params, x, y, x, y, 2, 3, seed=1, x_views=views)
    assert plain.history["loss"] != aug.history["loss"]
