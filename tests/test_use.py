"""predict / evaluate / export on a model registered by a real (tiny) search."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import class_image, make_folders, write_image

import runner
from runner import data, tracking
from runner.errors import RunnerError
from runner.use.evaluate import evaluate
from runner.use.export import export
from runner.use.predict import predict


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One search shared by the tests of this module (its own store, cache and Keras home)."""
    root = tmp_path_factory.mktemp("use")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.setenv("RUNNER_CACHE_DIR", str(root / "cache"))
    train = make_folders(root / "train", per_class=12, seed=5)
    r = runner.search(
        str(train),
        backbone="mobilenet_v2_035",
        weights="none",
        image_size=32,
        trials=3,
        epochs=5,
        seed=2,
        refit=False,
        ensemble=1,
        tta=False,
        calibrate=False,  # the best trial as validated: evaluate reproduces it
    )
    yield {"root": root, "train": train, "result": r, "uri": f"models:/{r.registered_model['name']}/1"}
    mp.undo()


def test_predict_kaggle_ids_in_natural_order(searched: dict, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    test = tmp_path / "test"
    for i in (10, 2, 1, 33):
        write_image(test / f"{i}.jpg", class_image(i % 2, rng))
    (test / "7.jpg").write_bytes(b"corrupt")
    out = tmp_path / "sub.csv"
    r = predict(searched["uri"], str(test), str(out))
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["id", "label"] and [row[0] for row in rows[1:]] == ["1", "2", "7", "10", "33"]
    probs = [float(row[1]) for row in rows[1:] if row[1]]
    assert len(probs) == 4 and all(0 <= p <= 1 for p in probs)
    assert r.unreadable == ["7.jpg"] and rows[3] == ["7", ""]  # listed, never dropped


def test_predict_full_format_and_clip(searched: dict, tmp_path: Path) -> None:
    out = tmp_path / "full.csv"
    predict(searched["uri"], str(searched["train"] / "dogs"), str(out), fmt="full", clip=0.01)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["id", "p_cats", "p_dogs", "predicted"] and rows[0]["id"] == "dog.0.jpg"
    for row in rows:
        assert 0.01 <= float(row["p_dogs"]) <= 0.99 and row["predicted"] in ("cats", "dogs")


def test_predict_format_follows_the_model(tmp_path: Path) -> None:
    """--format kaggle is for two classes: a clear error on a 3-class model, whose default is the full format;
    CSV lines end with \\n."""
    import keras

    inp = keras.Input((32, 32, 3))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inp)))
    model.save(tmp_path / "three.keras")
    images = make_folders(tmp_path / "imgs", per_class=2)
    with pytest.raises(RunnerError, match=r"--format kaggle needs a two-class model.*3 classes.*--format full"):
        predict(str(tmp_path / "three.keras"), str(images), str(tmp_path / "k.csv"), fmt="kaggle")
    r = predict(str(tmp_path / "three.keras"), str(images), str(tmp_path / "f.csv"))
    assert r.columns == ["id", "p_class_0", "p_class_1", "p_class_2", "predicted"]
    raw = (tmp_path / "f.csv").read_bytes()
    assert b"\r\n" not in raw and raw.count(b"\n") == 5


def test_evaluate_reproduces_the_search_accuracy(searched: dict, tmp_path: Path) -> None:
    r = searched["result"]
    ds = data.load_dataset(searched["train"])
    _, va = data.split(ds.labels, 0.2, 2)
    val = tmp_path / "val"
    for i in va:
        shutil.copy(
            searched["train"] / ds.names[i],
            (val / ds.names[i]).parent.mkdir(parents=True, exist_ok=True) or val / ds.names[i],
        )
    ev = evaluate(
        searched["uri"], str(val), tracking_uri=tracking.tracking_uri(f"sqlite:///{searched['root']}/mlruns/mlflow.db")
    )
    assert ev.n == len(va)
    assert ev.metrics["accuracy"] == pytest.approx(r.best_metrics["val_accuracy"], abs=1e-9)
    assert ev.metrics["log_loss"] == pytest.approx(r.best_metrics["val_log_loss"], abs=0.02)
    assert set(ev.per_class) == {"cats", "dogs"} and np.array(ev.confusion).sum() == len(va)
    assert {"confusion_matrix.png", "roc_curve.png", "misclassified.png", "predictions.csv"} <= set(ev.artifacts)
    cl = tracking.client(tracking.tracking_uri(f"sqlite:///{searched['root']}/mlruns/mlflow.db"))
    assert cl.get_run(ev.run_id).data.tags["model_uri"] == searched["uri"]


def test_evaluate_refuses_other_classes(searched: dict, tmp_path: Path) -> None:
    other = make_folders(tmp_path / "other", per_class=2, classes=("ants", "bees"))
    with pytest.raises(RunnerError, match=r"classes do not match.*ants.*cats"):
        evaluate(searched["uri"], str(other), log=False)


@pytest.mark.parametrize(
    ("fmt", "name", "quantize"),
    [
        ("keras", "m.keras", None),
        ("savedmodel", "sm", None),
        ("tflite", "m.tflite", None),
        ("tflite", "q.tflite", "int8"),
    ],
)
def test_exports_round_trip(searched: dict, tmp_path: Path, fmt: str, name: str, quantize: str | None) -> None:
    out = tmp_path / name
    r = export(searched["uri"], fmt, str(out), quantize=quantize)
    assert out.exists() and r.max_abs_diff <= r.tolerance and r.checked_images == 8
    if fmt == "keras":  # the .keras export carries the metadata: it predicts like the registered model
        a, b = tmp_path / "a.csv", tmp_path / "b.csv"
        predict(str(out), str(searched["train"] / "cats"), str(a))
        predict(searched["uri"], str(searched["train"] / "cats"), str(b))
        assert a.read_text() == b.read_text()
    with pytest.raises(RunnerError, match="already exists"):
        export(searched["uri"], fmt, str(out), quantize=quantize)


def test_model_reference_errors(searched: dict) -> None:
    with pytest.raises(RunnerError, match="unrecognised model reference"):
        predict("not-a-model", str(searched["train"]), "x.csv")
    with pytest.raises(RunnerError, match="cannot load the model"):
        predict("models:/nope/1", str(searched["train"]), "x.csv")
    with pytest.raises(RunnerError, match="model file not found"):
        predict("missing.keras", str(searched["train"]), "x.csv")
    with pytest.raises(RunnerError, match="images path does not exist"):
        predict(searched["uri"], "missing/", "x.csv")
