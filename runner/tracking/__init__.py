"""MLflow: where results go (store), runs and how they end (runs), logged models (models), figures (plots).

Imports nothing of runner but :mod:`runner.errors` and :mod:`runner.locks`; MLflow itself is imported inside the
functions. ``from runner import tracking`` gives the names below.
"""

from __future__ import annotations

from runner.tracking.arrays import load_arrays, log_arrays
from runner.tracking.models import log_keras_model
from runner.tracking.plots import learning_curves
from runner.tracking.runs import (
    RunEnd,
    end_run,
    ending,
    log_history,
    log_metrics,
    log_params,
    parent_run,
    start_child,
)
from runner.tracking.store import (
    DEFAULT_TRACKING_URI,
    client,
    default_storage,
    existing,
    experiment_id,
    local_root,
    redact,
    sqlite_path,
    tracking_uri,
    ui_link,
)

__all__ = [
    "DEFAULT_TRACKING_URI",
    "RunEnd",
    "client",
    "default_storage",
    "end_run",
    "ending",
    "existing",
    "experiment_id",
    "learning_curves",
    "load_arrays",
    "local_root",
    "log_arrays",
    "log_history",
    "log_keras_model",
    "log_metrics",
    "log_params",
    "parent_run",
    "redact",
    "sqlite_path",
    "start_child",
    "tracking_uri",
    "ui_link",
]
