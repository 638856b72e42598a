"""Logging an end-to-end Keras model with MLflow's Keras flavour, with pinned requirements, and registering it."""

from __future__ import annotations

import contextlib
import io
import logging
from contextlib import nullcontext
from typing import Any


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
    quiet = logging.getLogger("mlflow").getEffectiveLevel() > logging.INFO  # MLflow prints its notices itself
    with mlflow.start_run(run_id=run_id), contextlib.redirect_stderr(io.StringIO()) if quiet else nullcontext():
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
