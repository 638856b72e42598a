"""End to end through the Python API: generated images -> cache -> Optuna -> MLflow -> registered model."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from conftest import make_folders, write_image

import runner
from runner import data, tracking
from runner.errors import RunnerError

# the best trial's own model, as validated (no refit, ensemble, mirror or temperature): it reproduces val_* exactly,
# and these tests (about the search itself) stay fast; the finishing stages are tested in test_blend_model.py
AS_VALIDATED = {"refit": False, "ensemble": 1, "tta": False, "calibrate": False}
SMALL = {"backbone": "mobilenet_v2_035", "weights": "none", "image_size": 32, "epochs": 4, **AS_VALIDATED}


def _runs(uri: str, exp_id: str):
    cl = tracking.client(uri)
    runs = cl.search_runs([exp_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return cl, parents, [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def test_search_end_to_end_then_cached(workdir: Path) -> None:
    root = make_folders(workdir / "train", per_class=12)
    write_image(workdir / "train" / "dogs" / "dog.50.jpg", np.zeros((4, 4, 3), np.uint8))
    (workdir / "train" / "dogs" / "dog.50.jpg").write_bytes(b"corrupt")
    events: list[str] = []
    r = runner.search(str(root), trials=3, seed=1, on_event=lambda kind, p: events.append(kind), **SMALL)
    assert r.cache["hit"] is False and "extract" in events
    assert r.data["skipped"] == ["dogs/dog.50.jpg"] and r.data["n_train"] + r.data["n_val"] == 24
    assert set(r.best_metrics) == {"val_log_loss", "val_accuracy", "val_roc_auc"}
    assert r.n_trials["complete"] + r.n_trials["pruned"] == 3

    uri = tracking.tracking_uri()
    cl, parents, children = _runs(uri, r.experiment_id)
    assert len(parents) == 1 and len(children) == 3
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {r.parent_run_id}
    parent = parents[0]
    assert parent.data.tags["cache_hit"] == "false" and parent.data.params["n_skipped"] == "1"
    assert parent.info.status == "FINISHED"
    # what the MLflow UI shows: a Model-training experiment, a description that says how to use the model, the data
    assert cl.get_experiment(r.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    note = parent.data.tags["mlflow.note.content"]
    assert f"#{r.best_trial}" in note and "runner predict models:/train-mobilenet_v2_035/1" in note
    (given,) = parent.inputs.dataset_inputs
    assert given.dataset.name == "train" and given.dataset.digest == data.load_dataset(root).fingerprint()[:16]
    assert {"val_loss", "val_accuracy", "loss", "accuracy"} <= set(children[0].data.metrics)
    assert len(cl.get_metric_history(children[0].info.run_id, "val_loss")) >= 1
    arts = {a.path for a in cl.list_artifacts(r.parent_run_id)}
    assert {"plots", "best_params.json", "skipped_files.json"} <= arts
    assert {a.path for a in cl.list_artifacts(r.parent_run_id, "plots")} == {
        "plots/accuracy.png",
        "plots/loss.png",
        "plots/reliability.png",
    }

    # the registered end-to-end model takes 0..255 RGB and reproduces the logged validation accuracy
    import mlflow

    name, version = r.registered_model["name"], r.registered_model["version"]
    assert name == "train-mobilenet_v2_035" and version == 1
    model = mlflow.keras.load_model(f"models:/{name}/{version}")
    ds = data.load_dataset(root)
    keep = [i for i, n in enumerate(ds.names) if n != "dogs/dog.50.jpg"]
    ds = ds.subset(keep)
    _, va = data.split(ds.labels, 0.2, 1)
    x = np.stack([ds.image(int(i), 32) for i in va]).astype("float32")
    proba = np.asarray(model.predict(x, verbose=0)).reshape(-1)
    assert np.all((proba >= 0) & (proba <= 1))
    acc = float(np.mean((proba > 0.5) == ds.labels[va]))
    assert acc == pytest.approx(r.best_metrics["val_accuracy"], abs=1.0 / len(va) + 1e-9)

    # second run: the cache is hit (nothing extracted) and the same seed gives the same best parameters
    events.clear()
    again = runner.search(str(root), trials=3, seed=1, on_event=lambda kind, p: events.append(kind), **SMALL)
    assert again.cache == r.cache | {"hit": True} and "extract" not in events
    assert again.best_params == r.best_params and again.registered_model["version"] == 2
    assert _runs(uri, r.experiment_id)[2].__len__() == 6

    # reclaiming disk: version 1 goes with its logged model and artifact folder, version 2 stays usable
    from runner.tracking.gc import collect

    model_id = cl.get_model_version(name, "1").source.rsplit("/", 1)[-1]
    folder = Path(urlparse(cl.get_logged_model(model_id).artifact_location).path)
    assert folder.is_dir()
    dry = collect(1, dry_run=True)
    assert dry.removed == [f"models:/{name}/1"] and dry.bytes > 0 and folder.is_dir()
    done = collect(1)
    assert done.removed == [f"models:/{name}/1"] and done.kept == [f"models:/{name}/2"] and not folder.exists()
    assert [str(v.version) for v in cl.search_model_versions(f"name='{name}'")] == ["2"]
    assert mlflow.keras.load_model(f"models:/{name}/2") is not None


def test_resume_continues_to_the_total(workdir: Path) -> None:
    root = make_folders(workdir / "train", per_class=6)
    first = runner.search(str(root), trials=2, study="s1", **SMALL)
    with pytest.raises(RunnerError, match="already complete"):
        runner.search(str(root), trials=2, study="s1", **SMALL)
    second = runner.search(str(root), trials=3, study="s1", resume=True, **SMALL)
    assert second.parent_run_id == first.parent_run_id
    assert sum(second.n_trials.values()) == 3
    _, parents, children = _runs(tracking.tracking_uri(), first.experiment_id)
    assert len(parents) == 1 and sorted(c.data.tags["trial_number"] for c in children) == ["0", "1", "2"]
    with pytest.raises(RunnerError, match="no such study"):
        runner.search(str(root), trials=3, study="nope", resume=True, **SMALL)


def test_resumed_seeded_search_proposes_what_an_uninterrupted_one_would(workdir: Path) -> None:
    """The sampler is seeded per trial number: stopping after 2 trials and resuming to 5 gives the same trials
    as running 5 at once (a TPESampler(seed) re-created on resume would repeat trial 0's proposal for trial 2);
    with successive halving (3 of the 9 training rows first), the same trials are pruned at the same rungs too."""
    import optuna

    root = make_folders(workdir / "train", per_class=6)
    args = {**SMALL, "epochs": 2, "seed": 3, "halving": 3}
    runner.search(str(root), trials=5, study="whole", **args)
    runner.search(str(root), trials=2, study="parts", **args)
    runner.search(str(root), trials=5, study="parts", resume=True, **args)
    storage = tracking.default_storage(tracking.tracking_uri())
    whole, parts = (optuna.load_study(study_name=n, storage=storage).trials for n in ("whole", "parts"))
    assert len(whole) == 5 and all(9999 in t.intermediate_values for t in whole)  # every trial began on rung 1
    assert [(t.params, t.state, t.value, t.intermediate_values) for t in whole] == [
        (t.params, t.state, t.value, t.intermediate_values) for t in parts
    ]


def test_val_data_and_accuracy_metric(workdir: Path) -> None:
    train = make_folders(workdir / "train", per_class=6, seed=1)
    val = make_folders(workdir / "val", per_class=3, seed=2)
    r = runner.search(str(train), val_data=str(val), trials=1, metric="accuracy", **SMALL)
    assert r.data["n_train"] == 12 and r.data["n_val"] == 6
    other = make_folders(workdir / "other", per_class=3, classes=("ants", "bees"))
    with pytest.raises(RunnerError, match="validation classes differ"):
        runner.search(str(train), val_data=str(other), trials=1, **SMALL)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"trials": 0}, "bad --trials"),
        ({"val_fraction": 1.5}, "bad --val-fraction"),
        ({"metric": "f1"}, "bad --metric"),
        ({"image_size": 8}, "image size too small"),
        ({"backbone": "nope"}, "unknown backbone"),
        ({"backbone": "tiny_cnn,tiny_cnn"}, "bad --backbone"),
        ({"head": "nope"}, "unknown head"),
    ],
)
def test_bad_arguments(workdir: Path, kwargs: dict, match: str) -> None:
    args = {**SMALL, "trials": 1, **kwargs}
    with pytest.raises(RunnerError, match=match):
        runner.search("demo", **args)


def test_backbone_and_head_are_searched_choices(workdir: Path) -> None:
    import mlflow

    root = make_folders(workdir / "train", per_class=8)
    r = runner.search(
        str(root),
        backbone="tiny_cnn,mobilenet_v2_035",
        head="dense,linear",
        weights="none",
        image_size=32,
        trials=6,
        epochs=3,
        seed=3,
    )
    assert r.backbone in ("tiny_cnn", "mobilenet_v2_035") and r.head in ("dense", "linear")
    assert set(r.per_backbone) <= {"tiny_cnn", "mobilenet_v2_035"} and r.backbone in r.per_backbone
    assert set(r.cache["keys"]) == {"tiny_cnn", "mobilenet_v2_035"}
    cl, parents, children = _runs(tracking.tracking_uri(), r.experiment_id)
    assert parents[0].data.tags["winning_backbone"] == r.backbone
    assert {c.data.params["backbone"] for c in children} <= {"tiny_cnn", "mobilenet_v2_035"}
    info = mlflow.models.get_model_info(f"models:/{r.registered_model['name']}/1")
    assert info.metadata["backbone"] == r.backbone and info.metadata["head"] == r.head
    with pytest.raises(RunnerError, match="does not name every searched backbone"):
        runner.search(str(root), backbone="tiny_cnn,mobilenet_v2_035", weights="tiny_cnn=none", trials=1)
