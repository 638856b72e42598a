"""MLflow: where results go, one parent run per search, one child run per trial, the best model registered."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from runner.errors import RunnerError

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
MAX_PARAM = 6000


def tracking_uri(uri: str | None = None) -> str:
    """``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else a SQLite store under ./mlruns."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    scheme = urlparse(uri).scheme
    if scheme not in ("sqlite", "http", "https", "postgresql", "mysql", "databricks", "file", ""):
        raise RunnerError(
            "unsupported tracking URI",
            received=uri,
            expected="sqlite:///path.db, http(s)://server, or a database URL",
            fix="fix --tracking-uri",
        )
    db = sqlite_path(uri)
    if db is not None:  # absolute, so that MLflow's per-URI store cache never mixes two working folders
        db = db.expanduser().resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{db}"
    return uri


def sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def local_root(uri: str) -> Path:
    """The folder next to a SQLite store (artifacts and the Optuna study go there); ./mlruns otherwise."""
    db = sqlite_path(uri)
    return db.parent if db is not None else Path("mlruns")


def default_storage(uri: str) -> str:
    root = local_root(uri)
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'optuna.db'}"


def client(uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    db = sqlite_path(uri)
    if db is None:
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    from runner.locks import file_lock

    with file_lock(db.with_name(db.name + ".lock")):  # several workers on a fresh store: one creates the tables
        cl = MlflowClient(tracking_uri=uri, registry_uri=uri)
        cl.search_experiments(max_results=1)
        cl.search_registered_models(max_results=1)
    return cl


def experiment_id(cl: MlflowClient, uri: str, name: str) -> str:
    exp = cl.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            raise RunnerError(
                "the MLflow experiment was deleted",
                received=name,
                expected="an active experiment",
                fix="restore it in the MLflow UI or pass another --experiment",
            )
        return exp.experiment_id
    location = None
    if sqlite_path(uri) is not None:
        location = (local_root(uri) / "artifacts").resolve().as_uri()
    return cl.create_experiment(name, artifact_location=location)


def _clean(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:MAX_PARAM]


def log_params(cl: MlflowClient, run_id: str, params: dict[str, Any], new_run: bool = False) -> None:
    """Log params; MLflow params are immutable, so a changed value (a resumed search) goes to a tag instead.

    ``new_run``: the run was just created, so there is nothing to compare with (saves a read per trial).
    """
    from mlflow.entities import Param

    old = {} if new_run else cl.get_run(run_id).data.params
    new = {str(k): _clean(v) for k, v in params.items()}
    for k, v in new.items():
        if k in old and old[k] != v:
            cl.set_tag(run_id, f"updated.{k}", v)
    cl.log_batch(run_id, params=[Param(k, v) for k, v in new.items() if k not in old])


def log_metrics(cl: MlflowClient, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    cl.log_batch(run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics.items()])


def log_history(cl: MlflowClient, run_id: str, history: dict[str, list[float]]) -> None:
    """Per-epoch metrics (loss, accuracy, val_loss, val_accuracy) as steps, in one batch call per 1000 values."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    rows = [Metric(k, float(v), now, step) for k, vals in history.items() for step, v in enumerate(vals)]
    for i in range(0, len(rows), 1000):
        cl.log_batch(run_id, metrics=rows[i : i + 1000])


def parent_run(
    cl: MlflowClient, exp_id: str, study: Any, created: bool, fingerprint: str, data_name: str, wait: float = 300.0
) -> str:
    """The study's one parent run: created by the worker that created the study, found by every other worker
    (which waits for it briefly when it joins at the same moment) and reopened on --resume."""
    if created:
        run = cl.create_run(exp_id, run_name=study.study_name, tags={"study": study.study_name, "runner": "search"})
        study.set_user_attr("data_fingerprint", fingerprint)
        study.set_user_attr("parent_run_id", run.info.run_id)
        return run.info.run_id
    deadline = time.monotonic() + wait
    while (parent_id := study.user_attrs.get("parent_run_id")) is None:
        if time.monotonic() > deadline:
            raise RunnerError(
                "the study has no MLflow parent run",
                received=study.study_name,
                expected="a study created by `runner search` (its first worker creates the parent run)",
                fix="start a new --study; the worker that created this one stopped before creating its parent run",
            )
        time.sleep(0.5)  # Study.user_attrs reads the storage each time
    if study.user_attrs.get("data_fingerprint") != fingerprint:
        raise RunnerError(
            "the study to resume or join was run on other data",
            received=data_name,
            expected="the same images as its first worker",
            fix="use the same --data (and --per-class), or start a new study",
        )
    if cl.get_run(parent_id).info.status != "RUNNING":
        cl.update_run(parent_id, status="RUNNING")
    return parent_id


def start_child(cl: MlflowClient, exp_id: str, parent_id: str, number: int) -> str:
    run = cl.create_run(
        exp_id, run_name=f"trial-{number}", tags={"mlflow.parentRunId": parent_id, "trial_number": str(number)}
    )
    return run.info.run_id


def end_run(cl: MlflowClient, run_id: str, state: str) -> None:
    """``state`` is complete | pruned | failed; MLflow status FINISHED | KILLED | FAILED."""
    cl.set_tag(run_id, "state", state)
    status = {"complete": "FINISHED", "pruned": "KILLED"}.get(state, "FAILED")
    cl.set_terminated(run_id, status=status)


def learning_curves(cl: MlflowClient, run_id: str, history: dict[str, list[float]]) -> None:
    """The reference recipe's two plots: accuracy and loss, train vs validation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for metric in ("accuracy", "loss"):
        if metric not in history:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        epochs = range(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], "bo", label=f"Training {metric}")
        ax.plot(epochs, history.get(f"val_{metric}", []), "b", label=f"Validation {metric}")
        ax.set_title(f"Training and validation {metric}")
        ax.set_xlabel("epoch")
        ax.legend()
        cl.log_figure(run_id, fig, f"plots/{metric}.png")
        plt.close(fig)


def _requirements() -> list[str]:
    """The packages that load the model, pinned to what is installed; MLflow would otherwise infer them by
    loading the model again in a subprocess (about 10 s per search)."""
    from importlib import metadata

    pins = []
    for names in (("keras",), ("tensorflow", "tensorflow-cpu")):
        for name in names:
            try:
                pins.append(f"{name}=={metadata.version(name)}")
                break
            except metadata.PackageNotFoundError:
                continue
    return pins


def log_keras_model(
    uri: str,
    run_id: str,
    model: Any,
    size: int,
    n_out: int,
    register_name: str,
    metadata: dict[str, Any],
    register: bool = True,
) -> tuple[str, int | None]:
    """Log the end-to-end model with MLflow's Keras flavour and (unless ``register`` is False) register it;
    returns (model_uri, version)."""
    import mlflow
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    sig = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype("float32"), (-1, size, size, 3), "image")]),
        outputs=Schema([TensorSpec(np.dtype("float32"), (-1, n_out), "proba")]),
    )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.keras.log_model(
            model,
            name="model",
            signature=sig,
            registered_model_name=register_name if register else None,
            metadata=metadata,
            await_registration_for=60,
            pip_requirements=_requirements(),
        )
    version = info.registered_model_version
    return info.model_uri, int(version) if version is not None else None
