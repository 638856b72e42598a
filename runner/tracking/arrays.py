"""NumPy arrays as run artifacts (a trial's validation predictions): written once, read back by the worker that
finalizes the study, wherever the trial ran."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient


def log_arrays(cl: MlflowClient, run_id: str, name: str, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` saved as ``name`` (an ``.npz``) among the run's artifacts."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        np.savez_compressed(path, **arrays)
        cl.log_artifact(run_id, str(path))


def load_arrays(cl: MlflowClient, run_id: str, name: str) -> dict[str, np.ndarray] | None:
    """The arrays of :func:`log_arrays`, or None when the run has no such artifact."""
    from mlflow.exceptions import MlflowException

    key, before = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ[key] = "false"  # one small file per trial: no progress bar each time
    try:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = cl.download_artifacts(run_id, name, tmp)
            except (MlflowException, OSError):
                return None
            with np.load(path) as npz:
                return {k: npz[k] for k in npz.files}
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before
