"""Which model: registered (``models:/NAME/VERSION|@ALIAS|/latest``), ``runs:/RUN_ID/model``, a search's
parent run id (its best model), or a ``.keras`` file; loaded with the metadata prediction needs."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import tracking
from runner.errors import RunnerError

META_FILE = "runner.json"  # stored inside exported .keras zips
FORMS = "models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/latest, runs:/RUN_ID/model, a run id, or a .keras file"


@dataclass
class LoadedModel:
    model: Any
    meta: dict[str, Any]
    uri: str
    classes: list[str] = field(default_factory=list)
    size: int = 0


def _from_keras_file(path: Path) -> LoadedModel:
    import keras

    from runner.features.layers import custom_layers

    custom_layers()  # runner's layers (mirror image, blend) registered before Keras reads the model
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise RunnerError(
            "cannot load the .keras file",
            received=str(path),
            expected="a Keras 3 .keras model",
            fix=f"re-export it with `runner export` ({str(err).splitlines()[0]})",
        ) from None
    meta: dict[str, Any] = {}
    with zipfile.ZipFile(path) as zf:
        if META_FILE in zf.namelist():
            meta = json.loads(zf.read(META_FILE))
    return LoadedModel(model, meta, str(path.resolve()))


def _from_mlflow(uri: str, tracking_uri: str | None) -> LoadedModel:
    import mlflow
    from mlflow.exceptions import MlflowException

    from runner.features.layers import custom_layers

    custom_layers()  # runner's layers (mirror image, blend) registered before Keras reads the model
    store = tracking.existing(tracking.tracking_uri(tracking_uri, create=False))  # reading never creates a store
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    try:
        info = mlflow.models.get_model_info(uri)
        model = mlflow.keras.load_model(uri)
    except (MlflowException, OSError) as err:
        raise RunnerError(
            "cannot load the model",
            received=uri,
            expected=f"{FORMS} in {store}",
            fix=f"check the name/version or --tracking-uri ({str(err).splitlines()[0]})",
        ) from None
    return LoadedModel(model, dict(info.metadata or {}), uri)


def load(ref: str, tracking_uri: str | None = None) -> LoadedModel:
    """Load ``ref``; its class names and input size come from runner's metadata (generic when absent)."""
    if ref.endswith(".keras"):
        path = Path(ref).expanduser()
        if not path.is_file():
            raise RunnerError("model file not found", received=ref, expected=FORMS, fix="check the path")
        loaded = _from_keras_file(path)
    elif ref.startswith(("models:/", "runs:/")):
        loaded = _from_mlflow(ref, tracking_uri)
    elif re.fullmatch(r"[0-9a-f]{32}", ref):
        loaded = _from_mlflow(f"runs:/{ref}/model", tracking_uri)
    else:
        raise RunnerError(
            "unrecognised model reference",
            received=ref,
            expected=FORMS,
            fix="pass a registered model URI (see `runner search` output) or a .keras file",
        )
    shape = loaded.model.input_shape
    size = int(loaded.meta.get("image_size") or shape[1])
    n_out = int(loaded.model.output_shape[-1])
    classes = list(loaded.meta.get("classes") or [f"class_{i}" for i in range(max(n_out, 2))])
    loaded.classes, loaded.size = classes, size
    return loaded


def predict_batch(model: Any, x: Any) -> Any:
    """Probabilities (n, K) for a float32 batch of RGB 0..255 pixels (sigmoid outputs become two columns)."""
    import numpy as np

    from runner.metrics import as_matrix

    out = np.asarray(model.predict_on_batch(x))
    return as_matrix(out, 2 if out.shape[-1] == 1 else out.shape[-1])
