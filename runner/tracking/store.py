"""Where results go: the MLflow tracking URI (SQLite under ./mlruns by default), its client, the experiment, and
the folder beside a SQLite store where artifacts and the default Optuna study live."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse, urlunparse

from runner.errors import RunnerError

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
KIND_TAG = "mlflow.experimentKind"


def ui_link(experiment_id: str | None = None, port: int = 5000) -> str:
    """The MLflow UI page of an experiment's runs (or of all experiments) in its Model training view."""
    page = f"experiments/{experiment_id}" if experiment_id else "experiments"
    return f"http://127.0.0.1:{port}/#/{page}?workflowType=machine_learning"


def redact(url: str) -> str:
    """A URL as it may be shown or logged: ``scheme://user@host/db``, never a password (or a token in place of
    one). The password belongs in the environment: PGPASSWORD or ~/.pgpass, MLFLOW_TRACKING_PASSWORD."""
    parts = urlparse(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunparse((parts.scheme, netloc, parts.path, parts.params, parts.query, parts.fragment))


def tracking_uri(uri: str | None = None, create: bool = True) -> str:
    """``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else a SQLite store under ./mlruns. ``create=False``
    (commands that only read) makes no folder."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    scheme = urlparse(uri).scheme
    if scheme not in ("sqlite", "http", "https", "postgresql", "mysql", "databricks", "file", ""):
        raise RunnerError(
            "unsupported tracking URI",
            received=redact(uri),
            expected="sqlite:///path.db, http(s)://server, or a database URL",
            fix="fix --tracking-uri",
        )
    db = sqlite_path(uri)
    if db is not None:  # absolute, so that MLflow's per-URI store cache never mixes two working folders
        db = db.expanduser().resolve()
        if create:
            db.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{db}"
    return uri


def existing(uri: str) -> str:
    """``uri`` when its store exists; a SQLite file that does not is an error (opening it would create an empty
    store in whatever folder the command runs from)."""
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        raise RunnerError(
            "no MLflow store here",
            received=str(db),
            expected="the store `runner search` wrote (mlruns/mlflow.db in the folder it ran in)",
            fix="run from the folder of the search, or pass --tracking-uri sqlite:///PATH/TO/mlflow.db",
        )
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
    from mlflow.exceptions import MlflowException

    try:  # the MLflow UI's "Model training" kind (not GenAI): runs, metrics and models, not traces
        return cl.create_experiment(name, artifact_location=location, tags={KIND_TAG: "custom_model_development"})
    except MlflowException:
        exp = cl.get_experiment_by_name(name)  # another worker created it at the same moment (the study's workers
        if exp is None:  # start together): theirs is ours
            raise
        return exp.experiment_id
