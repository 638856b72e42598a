"""``runner.evaluate()``: metrics on a labelled set, logged to MLflow as an evaluation run linked to the model."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from runner import tracking
from runner.data.batches import iter_batches, stack
from runner.data.load import load_dataset
from runner.errors import DataError
from runner.metrics import classification_metrics
from runner.tracking import plots
from runner.use.load import load, predict_batch

Progress = Callable[[int, int, float], None]


@dataclass
class EvalResult:
    model: str
    data: str
    n: int
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    classes: list[str]
    skipped: list[str] = field(default_factory=list)
    run_id: str = ""
    artifacts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    model: str,
    data: str,
    *,
    batch_size: int = 32,
    tracking_uri: str | None = None,
    experiment: str = "runner",
    log: bool = True,
    progress: Progress | None = None,
) -> EvalResult:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    ds = load_dataset(data)
    loaded = load(model, tracking_uri)
    if ds.classes != loaded.classes:
        raise DataError(
            "the data's classes do not match the model's",
            received=ds.classes,
            expected=f"the model's classes {loaded.classes}",
            fix="evaluate on data with the same classes",
        )
    t0 = time.perf_counter()
    probas, rows = [], []
    for rng, imgs in iter_batches(ds, loaded.size, batch_size):
        ok, x = stack(imgs)
        if x is not None:
            probas.append(predict_batch(loaded.model, x))
            rows += [rng[k] for k in ok]
        if progress:
            progress(rng[-1] + 1, len(ds), time.perf_counter() - t0)
    skipped = sorted(set(range(len(ds))) - set(rows))
    if not rows:
        raise DataError("no image could be decoded", received=data, expected="readable images", fix="check the files")
    proba = np.concatenate(probas)
    y = ds.labels[rows]
    k = len(ds.classes)
    metrics = classification_metrics(y, proba, k)
    pred = np.argmax(proba, axis=1)
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=list(range(k)), zero_division=0)
    per_class = {
        c: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]), "support": int(support[i])}
        for i, c in enumerate(ds.classes)
    }
    cm = confusion_matrix(y, pred, labels=list(range(k)))
    result = EvalResult(
        model=loaded.uri,
        data=str(data),
        n=len(rows),
        metrics=metrics,
        per_class=per_class,
        confusion=cm.tolist(),
        classes=ds.classes,
        skipped=[ds.names[i] for i in skipped],
    )
    if log:
        _log(result, Predictions(ds, rows, proba, y, pred, loaded.size), tracking_uri, experiment)
    result.seconds = round(time.perf_counter() - t0, 3)
    return result


@dataclass
class Predictions:
    """What the evaluation run shows: the data, the decoded rows, their probabilities, labels and predictions."""

    ds: Any
    rows: list[int]
    proba: np.ndarray
    y: np.ndarray
    pred: np.ndarray
    size: int


def _log(result: EvalResult, p: Predictions, tracking_uri: str | None, experiment: str) -> None:
    import matplotlib.pyplot as plt
    import pandas as pd

    ds, rows, proba, y, pred = p.ds, p.rows, p.proba, p.y, p.pred

    uri = tracking.tracking_uri(tracking_uri, create=False)
    db = tracking.sqlite_path(uri)
    if db is not None and not db.is_file():  # a .keras model evaluated where no search ran: nothing to log into
        return
    cl = tracking.client(uri)
    exp_id = tracking.experiment_id(cl, uri, experiment)
    run = cl.create_run(
        exp_id,
        run_name=f"evaluate-{ds.name}",
        tags={"runner": "evaluate", "model_uri": result.model, "data": result.data},
    )
    rid = run.info.run_id
    with tracking.ending(cl, rid):
        tracking.log_params(
            cl,
            rid,
            {
                "model_uri": result.model,
                "data": result.data,
                "n_images": result.n,
                "n_skipped": len(result.skipped),
                "classes": ",".join(result.classes),
            },
            new_run=True,
        )
        flat = {f"{c}_{m}": v for c, d in result.per_class.items() for m, v in d.items() if m != "support"}
        tracking.log_metrics(cl, rid, result.metrics | flat)
        cl.log_figure(rid, plots.confusion(np.array(result.confusion), result.classes), "confusion_matrix.png")
        if "roc_auc" in result.metrics:
            fig = plots.roc(y, proba[:, 1], result.metrics["roc_auc"], result.classes[1])
            cl.log_figure(rid, fig, "roc_curve.png")
        wrong = np.flatnonzero(pred != y)
        worst = wrong[np.argsort(-proba[wrong, pred[wrong]])][:16]
        imgs = [ds.image(rows[i], p.size) for i in worst]
        caps = [
            f"{ds.names[rows[i]][-28:]}\ntrue {result.classes[y[i]]}, pred {result.classes[pred[i]]} "
            f"({proba[i, pred[i]]:.2f})"
            for i in worst
        ]
        keep = [j for j, img in enumerate(imgs) if img is not None]
        cl.log_figure(rid, plots.contact_sheet([imgs[j] for j in keep], [caps[j] for j in keep]), "misclassified.png")
        frame = pd.DataFrame(
            {
                "file": [ds.names[i] for i in rows],
                "true": [result.classes[v] for v in y],
                "predicted": [result.classes[v] for v in pred],
            }
        )
        for j, c in enumerate(result.classes):
            frame[f"p_{c}"] = proba[:, j]
        buf = io.StringIO()
        frame.to_csv(buf, index=False)
        cl.log_text(rid, buf.getvalue(), "predictions.csv")
        if result.skipped:
            cl.log_dict(rid, {"skipped": result.skipped}, "skipped_files.json")
        plt.close("all")
    result.run_id = rid
    result.artifacts = sorted(a.path for a in cl.list_artifacts(rid))
