"""Real photos, real ImageNet weights (MobileNetV2-0.35 from ../shared, offline): catches wrong preprocessing.

With the right preprocessing a head on these features separates cats from dogs at about 95%; with
raw pixels or random weights it stays near 50%. Skips where ../shared is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import runner


@pytest.mark.slow
def test_real_photos_reach_90_percent(shared: Path, workdir: Path) -> None:
    r = runner.search(
        str(shared / "data" / "dogs-vs-cats-300"),
        backbone="mobilenet_v2_035",
        weights="imagenet",
        image_size=224,
        trials=4,
        epochs=20,
        seed=0,
    )
    assert r.data["classes"] == ["cats", "dogs"] and r.data["n_train"] + r.data["n_val"] == 300
    assert r.best_metrics["val_accuracy"] >= 0.90, r.best_metrics


@pytest.mark.slow
def test_multi_backbone_search_registers_the_winner(shared: Path, workdir: Path) -> None:
    """Real ImageNet weights against the same family with random weights: the real one must win."""
    import mlflow

    r = runner.search(
        str(shared / "data" / "dogs-vs-cats-300"),
        backbone="mobilenet_v2_035,mobilenet_v2_050",
        weights="mobilenet_v2_035=imagenet,mobilenet_v2_050=none",
        image_size=224,
        trials=8,
        epochs=15,
        seed=1,
    )
    assert r.backbone == "mobilenet_v2_035", r.per_backbone
    assert set(r.per_backbone) == {"mobilenet_v2_035", "mobilenet_v2_050"}
    assert r.per_backbone["mobilenet_v2_035"] < r.per_backbone["mobilenet_v2_050"]
    info = mlflow.models.get_model_info(f"models:/{r.registered_model['name']}/{r.registered_model['version']}")
    assert info.metadata["backbone"] == "mobilenet_v2_035" and info.metadata["image_size"] == 224


@pytest.mark.slow
def test_evaluate_and_predict_real_photos(shared: Path, workdir: Path) -> None:
    """Search on the first 100 photos per class; evaluate reproduces its validation accuracy, and on the
    50 per class it never saw it stays high."""
    import shutil

    from runner import data
    from runner.use.evaluate import evaluate
    from runner.use.predict import predict

    src = shared / "data" / "dogs-vs-cats-300"
    opts = {"backbone": "mobilenet_v2_035", "weights": "imagenet", "per_class": 100, "trials": 3, "epochs": 15}
    # first the best trial as validated (no refit, ensemble, mirror or temperature): evaluate reproduces it exactly
    r = runner.search(str(src), **opts, seed=0, refit=False, ensemble=1, tta=False, calibrate=False)
    uri = f"models:/{r.registered_model['name']}/{r.registered_model['version']}"
    seen = data.load_dataset(src, per_class=100)
    _, va = data.split(seen.labels, 0.2, 0)
    val, unseen = workdir / "val", workdir / "unseen"
    for i in va:
        (val / seen.names[i]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / seen.names[i], val / seen.names[i])
    everything = data.load_dataset(src)
    for name in sorted(set(everything.names) - set(seen.names)):
        (unseen / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / name, unseen / name)
    ev = evaluate(uri, str(val))
    assert ev.metrics["accuracy"] == pytest.approx(r.best_metrics["val_accuracy"], abs=1e-9)
    held = evaluate(uri, str(unseen))
    assert held.n == 100 and held.metrics["accuracy"] >= 0.85, held.metrics
    # the same study finalized with the defaults (refit, ensemble, mirror, temperature): no trial runs again
    d = runner.search(str(src), **opts, seed=0, resume=True, study=r.study_name)
    assert d.n_trials == r.n_trials and d.registered_model["version"] == r.registered_model["version"] + 1
    default = evaluate(f"models:/{d.registered_model['name']}/{d.registered_model['version']}", str(unseen))
    assert default.metrics["accuracy"] >= 0.85 and default.metrics["log_loss"] < 0.5, default.metrics
    out = predict(uri, str(unseen / "dogs"), str(workdir / "dogs.csv"))
    assert out.n == 50 and not out.unreadable
